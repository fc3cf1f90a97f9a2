"""Applying attendees' answers, from their links or from iTIP REPLY emails."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from booking.links import ANSWERS
from booking.models import CaseEvent, MeetingAttendee
from booking.services import _record


@transaction.atomic
def attendee_answer(*, attendee: MeetingAttendee, answer: str, sequence: int, now: datetime) -> bool:
    """Set the attendee's PARTSTAT (or their request for another time). An answer to an older SEQUENCE than one
    already applied is stale and ignored. Returns whether anything changed."""
    attendee = MeetingAttendee.objects.select_for_update().get(pk=attendee.pk)
    if sequence < attendee.reply_sequence:
        return False
    partstat = ANSWERS.get(answer, answer)
    another = answer == "another-time"
    attendee.partstat = partstat
    attendee.wants_another_time = another
    attendee.reply_sequence = sequence
    attendee.responded_at = now
    attendee.save(update_fields=["partstat", "wants_another_time", "reply_sequence", "responded_at"])
    case = attendee.meeting.case
    _record(
        case,
        CaseEvent.Kind.UPDATED,
        actor=None,
        reason=f"{attendee.name} answered: {partstat}" + (" (needs another time)" if another else ""),
        details={"attendee": attendee.pk, "partstat": partstat},
    )
    if another or partstat == "DECLINED":
        from notifications.services import coordinator_alert

        problem = "An attendee asked for another time." if another else "An attendee cannot come."
        coordinator_alert(case, problem=problem, key=f"answer:{attendee.pk}:{sequence}:{answer}", now=now)
    return True


def replies_apply(replies: list[Any], *, now: datetime | None = None) -> dict[str, int]:
    """Apply parsed iTIP REPLYs: matched on UID and attendee address; stale SEQUENCEs ignored."""
    now = now or timezone.now()
    counts = {"applied": 0, "stale": 0, "unmatched": 0}
    for reply in replies:
        attendee = (
            MeetingAttendee.objects.select_related("meeting")
            .filter(meeting__uid=reply.uid, email__iexact=reply.attendee_email, active=True)
            .first()
        )
        if attendee is None:
            counts["unmatched"] += 1
            continue
        if reply.sequence < attendee.meeting.sequence:
            counts["stale"] += 1  # an answer to an invitation that has since changed
            continue
        if reply.sequence > attendee.meeting.sequence:
            counts["unmatched"] += 1
            continue
        applied = attendee_answer(attendee=attendee, answer=reply.partstat, sequence=reply.sequence, now=now)
        counts["applied" if applied else "stale"] += 1
    return counts
