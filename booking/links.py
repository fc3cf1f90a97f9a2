"""Signed, purpose-scoped links for attendees' answers (accept, decline, need another time)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

from booking.models import MeetingAttendee

SALT = "booking.attendee-answer"
ANSWERS = {"accept": "ACCEPTED", "decline": "DECLINED", "another-time": "NEEDS-ACTION"}


def answer_token(attendee: MeetingAttendee) -> str:
    return signing.Signer(salt=SALT).sign(attendee.token)


def answer_url(attendee: MeetingAttendee, answer: str) -> str:
    if answer not in ANSWERS:
        raise ValueError(answer)
    return f"{settings.SITE_URL}/respond/{answer_token(attendee)}/{answer}/"


def attendee_from_token(token: str) -> MeetingAttendee | None:
    try:
        raw = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    # Someone taken off the meeting (removed from the case) loses the link with it: it showed the time and place.
    return MeetingAttendee.objects.select_related("meeting", "meeting__case").filter(token=raw, active=True).first()
