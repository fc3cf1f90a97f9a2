"""Writing meetings into the connected calendars of the people who attend them (the mediator, staff attendees).

One resource per meeting UID, carrying the service's SEQUENCE unchanged. A CalendarEvent row per calendar remembers the
ETag and SEQUENCE last written, so a push happens once per change and is conditional (If-Match): when the event changed
on the server meanwhile, it is read again and written over unless it already carries a newer SEQUENCE. Cancelled
meetings, and meetings a person no longer attends, are deleted from that person's calendar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, F, OuterRef
from icalendar import Calendar

from booking.ical import MeetingInvite, build_for_caldav
from booking.models import Meeting
from scheduling.caldav.breaker import breaker_open, with_retries
from scheduling.caldav.client import CalDAVClient, CalDAVConflict, CalDAVError, event_href
from scheduling.caldav.crypto import SecretUnreadableError
from scheduling.caldav.hosts import UnsafeHostError
from scheduling.caldav.sync import connection_client
from scheduling.models import CalendarConnection, CalendarEvent, Occupancy, Resource

logger = logging.getLogger(__name__)

ONLINE = "Online (joining details in the invitation email)"
FAILURES = (CalDAVError, SecretUnreadableError, UnsafeHostError)


@dataclass
class PushOutcome:
    written: int = 0
    deleted: int = 0
    unchanged: int = 0
    waiting: int = 0  # breaker open: left for the sweep
    failed: int = 0


def meeting_push(meeting_id: int, *, now: datetime) -> PushOutcome:
    meeting = Meeting.objects.select_related("room__venue").get(pk=meeting_id)
    wanted = {c.pk: c for c in _connections_for(meeting)}
    rows = {r.connection_id: r for r in CalendarEvent.objects.filter(meeting=meeting).select_related("connection")}
    outcome = PushOutcome()
    for connection in wanted.values():
        row = rows.get(connection.pk) or CalendarEvent(connection=connection, meeting=meeting)
        if row.pk and not row.deleted and row.sequence >= meeting.sequence:
            outcome.unchanged += 1
        elif breaker_open(connection, now=now):
            outcome.waiting += 1
        else:
            _write(row, meeting, now=now, outcome=outcome)
    for connection_id, row in rows.items():
        if connection_id in wanted:
            continue
        if row.deleted or breaker_open(row.connection, now=now):
            # Nothing left to remove (or not now): keep the row level with the meeting so the sweep stops finding it.
            outcome.unchanged += 1
            if row.deleted and row.sequence < meeting.sequence:
                CalendarEvent.objects.filter(pk=row.pk).update(sequence=meeting.sequence)
            continue
        _remove(row, meeting, now=now, outcome=outcome)
    return outcome


def _connections_for(meeting: Meeting) -> list[CalendarConnection]:
    if meeting.status == Meeting.Status.CANCELLED:
        return []
    occupied = Occupancy.objects.filter(meeting=meeting, active=True, kind=Occupancy.Kind.MEETING)
    resource_ids = set(occupied.values_list("resource_id", flat=True))
    resource_ids |= set(Resource.objects.filter(mediator_id=meeting.mediator_id).values_list("pk", flat=True))
    return list(CalendarConnection.objects.filter(resource_id__in=resource_ids, push_enabled=True))


def _write(row: CalendarEvent, meeting: Meeting, *, now: datetime, outcome: PushOutcome) -> None:
    text = build_for_caldav(meeting_invite(meeting), dtstamp=now)
    try:
        with connection_client(row.connection) as client:
            etag = with_retries(lambda: _put(client, row.connection.calendar_url, meeting, text, row.etag or None))
    except FAILURES as exc:
        logger.info("Writing meeting %s into calendar %s failed: %s", meeting.pk, row.connection_id, exc)
        row.last_error = str(exc)[:1000]
        row.save()
        outcome.failed += 1
        return
    row.etag, row.sequence, row.deleted, row.pushed_at, row.last_error = etag or "", meeting.sequence, False, now, ""
    row.save()
    outcome.written += 1


def _put(client: CalDAVClient, calendar_url: str, meeting: Meeting, text: str, etag: str | None) -> str | None:
    try:
        return client.put_event(calendar_url, meeting.uid, text, etag=etag)
    except CalDAVConflict:
        pass
    # Changed on the server since we wrote it: read it again; a newer SEQUENCE there means a later push already won.
    href = event_href(calendar_url, meeting.uid)
    current = client.get_events(calendar_url, [href]).get(href)
    if current is not None and _sequence(current[1]) > meeting.sequence:
        return current[0]
    return client.put_event(calendar_url, meeting.uid, text, etag=current[0] if current else None)


def _remove(row: CalendarEvent, meeting: Meeting, *, now: datetime, outcome: PushOutcome) -> None:
    try:
        with connection_client(row.connection) as client:
            with_retries(lambda: client.delete_event(row.connection.calendar_url, meeting.uid))
    except FAILURES as exc:
        row.last_error = str(exc)[:1000]
        row.save(update_fields=["last_error"])
        outcome.failed += 1
        return
    row.etag, row.sequence, row.deleted, row.pushed_at, row.last_error = "", meeting.sequence, True, now, ""
    row.save()
    outcome.deleted += 1


def _sequence(ics_text: str) -> int:
    try:
        return max(int(e.get("SEQUENCE", 0)) for e in Calendar.from_ical(ics_text).walk("VEVENT"))
    except ValueError:
        return -1


def meeting_invite(meeting: Meeting) -> MeetingInvite:
    """Only the time and the place: a calendar entry carries no name, no dispute and no health detail."""
    place = ONLINE
    if meeting.room is not None and meeting.mode != "online":
        venue = meeting.room.venue
        place = ", ".join(p for p in (venue.name, venue.address.replace("\n", ", "), venue.postcode) if p)
    return MeetingInvite(
        uid=meeting.uid,
        sequence=meeting.sequence,
        start=meeting.start,
        end=meeting.end,
        tz=settings.DISPLAY_TIME_ZONE,
        location=place,
        description=f"Mediation meeting. Details: {settings.SITE_URL}/",
        organizer_email=settings.DEFAULT_FROM_EMAIL,
        organizer_name="Mediation service",
    )


def calendar_meeting_changed(meeting_id: int) -> None:
    """Call inside ``transaction.on_commit`` after a meeting is booked, moved or cancelled: queues the push.

    Never calls a calendar server in the request. With no broker (the embedded default) nothing is queued: the
    ``calendar_sync`` command's sweep writes the change. A broker outage must not fail a booking: the sweep catches up.
    """
    from core.broker import enqueue_now
    from scheduling.tasks import meeting_push_task

    enqueue_now(meeting_push_task, meeting_id)


def calendar_push_due(*, now: datetime, limit: int = 500) -> list[int]:
    """Meetings some connected calendar has not caught up with: a written SEQUENCE behind the meeting's, or an
    upcoming meeting of a push-enabled connection's owner never written at all."""
    lagging = CalendarEvent.objects.filter(sequence__lt=F("meeting__sequence")).values_list("meeting_id", flat=True)
    written = CalendarEvent.objects.filter(
        meeting_id=OuterRef("meeting_id"), connection__resource_id=OuterRef("resource_id")
    )
    unwritten = (
        Occupancy.objects.filter(
            active=True, kind=Occupancy.Kind.MEETING, meeting__status=Meeting.Status.CONFIRMED, meeting__end__gt=now,
            resource__calendar_connection__push_enabled=True,
        )
        .filter(~Exists(written))
        .values_list("meeting_id", flat=True)
    )  # fmt: skip
    return sorted(set(lagging[:limit]) | set(unwritten[:limit]))[:limit]
