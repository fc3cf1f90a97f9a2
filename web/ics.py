"""The family's "add to my calendar" file, built by booking.ical from the meeting as it now stands."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from booking.ical import Attendee, MeetingInvite, build_for_caldav, build_request
from booking.models import Meeting
from web import text
from web.selectors import family_members


def family_calendar(meeting: Meeting, *, booking_url: str, now: datetime) -> bytes:
    provider = meeting.case.provider
    room = meeting.room
    if room is None:
        location = "Online"
    else:
        venue = room.venue
        location = ", ".join(part for part in (venue.name, venue.address, venue.postcode) if part)
    if room is None:
        where = "We will send you the link to join."
    else:
        where = text.place(room.venue.name, room.venue.town, list(room.venue.features))
    description = (
        f"Your mediation meeting. {where}\nTo see the details or change anything, use your booking link: {booking_url}"
    )
    attendees = [
        Attendee(email=p.email, name=p.name, role="REQ-PARTICIPANT", rsvp=False)
        for p in family_members(meeting.case)
        if p.email
    ]
    invite = MeetingInvite(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=meeting.start,
        end=meeting.end,
        tz=settings.DISPLAY_TIME_ZONE,
        location=location,
        description=description,
        organizer_email=provider.scheduling_email or settings.DEFAULT_FROM_EMAIL,
        organizer_name=provider.sender,
        attendees=attendees,
        url=booking_url,
    )
    if attendees:
        return build_request(invite, dtstamp=now)
    return build_for_caldav(invite, dtstamp=now).encode("utf-8")
