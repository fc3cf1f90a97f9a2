"""The family's "add to my calendar" file, built by booking.ical from the meeting as it now stands."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from booking.ical import MeetingInvite, build_publish
from booking.models import Meeting
from web import text


def family_calendar(meeting: Meeting, *, now: datetime) -> bytes:
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
    # No booking link in a file that may be synced to a shared or cloud calendar: the link can cancel the meeting.
    description = f"Your mediation meeting. {where}\nTo see the details or change anything, use the link in your email."
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
        attendees=[],
    )
    # PUBLISH, not REQUEST: a copy to keep, not a second invitation to answer (the emailed one carries the answers).
    return build_publish([invite], dtstamp=now, name="Mediation meeting")
