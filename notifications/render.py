"""Turning an outbox row into what is sent: neutral text, the recipient's own links, and the calendar.

Only the date, time, place (or "online") and links reach a message; a child's name, the dispute or a health detail
is never read here, so it cannot leak into an SMS, a subject or a calendar title.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings

from booking import ical
from booking.links import answer_url
from booking.models import Meeting
from notifications.models import Message
from notifications.sms_text import render_sms
from notifications.transports.email import render_email

ONLINE_LOCATION = "Online: joining details in the email"


def place_of(meeting: Meeting) -> str | None:
    """The venue's name and address, or None for an online meeting."""
    if meeting.mode == "online" or meeting.room is None:
        return None
    venue = meeting.room.venue
    return ", ".join(part for part in (venue.name, venue.address.replace("\n", ", "), venue.postcode) if part)


def organizer(meeting: Meeting) -> tuple[str, str]:
    """(address, name): the provider's scheduling address, in the name of the case's coordinator."""
    case = meeting.case
    provider = case.provider
    address = provider.scheduling_email or settings.DEFAULT_FROM_EMAIL
    coordinator = case.created_by.get_full_name() if case.created_by else ""
    name = f"{coordinator} ({provider.sender})" if coordinator else provider.sender
    return address, name


def invite_for(meeting: Meeting, *, cancelled: bool = False, attendee: Any = None) -> ical.MeetingInvite:
    """The meeting as an invitation. `attendee`: the one person this copy is for, the only ATTENDEE it names (each
    person's copy names them alone, so no one is sent the others' names and addresses); default everyone invited."""
    address, name = organizer(meeting)
    invited = [attendee] if attendee is not None else meeting.attendees.filter(active=True)
    attendees = [
        ical.Attendee(email=a.email, name=a.name, role=a.ical_role, partstat=a.partstat) for a in invited if a.email
    ]
    place = place_of(meeting)
    provider = meeting.case.provider
    contact = provider.scheduling_email or settings.DEFAULT_FROM_EMAIL
    description = (
        "Mediation meeting arranged by "
        + provider.sender
        + (". Place: " + place if place else ". Online: the joining link is in your email.")
        + f" Questions: {contact}"
        + (f" or {provider.contact_phone}" if provider.contact_phone else "")
        + "."
    )
    return ical.MeetingInvite(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=meeting.start,
        end=meeting.end,
        tz=settings.DISPLAY_TIME_ZONE,
        summary="Mediation meeting",
        location=place or ONLINE_LOCATION,
        description=description,
        organizer_email=address,
        organizer_name=name,
        attendees=attendees,
        cancelled=cancelled or meeting.status == "cancelled",
    )


def _context(message: Message) -> dict[str, Any]:
    context: dict[str, Any] = {
        "service_name": message.organisation.sender,
        "recipient_name": message.recipient_name,
        "tz": settings.DISPLAY_TIME_ZONE,
        **(message.context or {}),
    }
    meeting = message.meeting
    if meeting is not None:
        context.update({"start": meeting.start, "end": meeting.end, "place": place_of(meeting)})
        if message.attendee is not None:
            context["link"] = f"{settings.SITE_URL}/respond/{_token(message)}/"
            context["accept_link"] = answer_url(message.attendee, "accept")
            context["decline_link"] = answer_url(message.attendee, "decline")
            context["another_time_link"] = answer_url(message.attendee, "another-time")
    if message.offer is not None:
        context["respond_by"] = message.offer.expires_at
    return context


def _token(message: Message) -> str:
    from booking.links import answer_token

    return answer_token(message.attendee)  # type: ignore[arg-type]


def email_parts(message: Message, *, now: datetime) -> dict[str, Any]:
    subject, text, html = render_email(message.kind, _context(message))
    address, name = (
        organizer(message.meeting)
        if message.meeting is not None
        else (message.organisation.scheduling_email or settings.DEFAULT_FROM_EMAIL, message.organisation.sender)
    )
    parts: dict[str, Any] = {"subject": subject, "text": text, "html": html, "from_email": address, "from_name": name}
    meeting = message.meeting
    if meeting is not None and message.calendar_method == "REQUEST":
        invite = invite_for(meeting, attendee=message.attendee)
        parts.update(calendar=ical.build_request(invite, dtstamp=now), calendar_method="REQUEST")
    elif meeting is not None and message.calendar_method == "CANCEL":
        invite = invite_for(meeting, attendee=message.attendee)
        # Someone taken off a meeting that goes ahead: the CANCEL is for them alone (RFC 5546 section 3.2.5).
        removed = invite.attendees if message.attendee is not None and not message.attendee.active else None
        parts.update(calendar=ical.build_cancel(invite, dtstamp=now, attendees=removed), calendar_method="CANCEL")
    return parts


def sms_body(message: Message) -> str:
    context = _context(message)
    if message.attendee is not None:
        context["link"] = f"{settings.SITE_URL}/m/{message.attendee.token}/"
    kind = message.kind if message.kind in ("offer", "invitation", "update", "cancellation", "reminder") else "update"
    return render_sms(
        kind, start=context.get("start"), place=context.get("place"), link=context["link"], tz=context["tz"]
    )
