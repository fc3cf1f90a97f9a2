"""Writes the pages need that no other service offers. Each one calls the existing services and records what the
family did in the case history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from booking import offers
from booking.meetings import meeting_cancel
from booking.models import Case, CaseEvent, Meeting, Offer, Participant
from booking.services import _record, participant_create, participant_update
from notifications import services as notifications
from web.selectors import family_members, optional_model

FAMILY_ACTOR = None  # families act without an account; the history shows them as "system" with details saying who


@dataclass(frozen=True)
class FamilyNeeds:
    attendance: str = ""  # "in_person", "online" or "" (not asked)
    supporter_name: str = ""
    supporter_relationship: str = ""
    interpreter_language: str = ""
    adjustments: str = ""


@transaction.atomic
def family_needs_update(*, case: Case, needs: FamilyNeeds) -> None:
    """Store what the family told us on their main participant row, and add or update their supporter."""
    family = family_members(case)
    if family:
        main = family[0]
        changes: dict[str, object] = {}
        if needs.attendance:
            changes["meeting_preference"] = needs.attendance
        if needs.interpreter_language:
            changes["interpreter_language"] = needs.interpreter_language
        if needs.adjustments and needs.adjustments not in main.access_notes:
            # Added to what the coordinator wrote down, never in its place.
            changes["access_notes"] = "\n".join(n for n in (main.access_notes, needs.adjustments) if n)
        if "meeting_preference" in changes and main.meeting_preference != needs.attendance:
            main.meeting_preference = needs.attendance
            main.save(update_fields=["meeting_preference"])
        changes.pop("meeting_preference", None)
        if changes:
            participant_update(participant=main, actor=FAMILY_ACTOR, **changes)
    if needs.supporter_name:
        _supporter_upsert(case, needs.supporter_name, needs.supporter_relationship)


def _supporter_upsert(case: Case, name: str, relationship: str) -> Participant:
    existing = case.participants.filter(role=Participant.Role.SUPPORTER, name__iexact=name.strip()).first()
    if existing is not None:
        return participant_update(participant=existing, actor=FAMILY_ACTOR, relationship=relationship)
    return participant_create(
        case=case,
        actor=FAMILY_ACTOR,
        role=Participant.Role.SUPPORTER,
        name=name.strip(),
        relationship=relationship,
        required=False,
    )


def family_confirm(*, offer: Offer, slot_id: int, needs: FamilyNeeds, now: datetime) -> Meeting:
    """The family picks a time and tells us what they need. Both are written, or neither.

    An open offer past its expiry is expired first, in its own transaction, so the coordinator's alert survives
    the refusal (offer_accept then raises GoneError)."""
    if offer.status == Offer.Status.OPEN and offer.expires_at <= now:
        offers.offer_expire(offer=offer, now=now)
        offer.refresh_from_db()
    with transaction.atomic():
        meeting = offers.offer_accept(offer=offer, slot_id=slot_id, now=now)
        family_needs_update(case=offer.case, needs=needs)
        _record(
            offer.case,
            CaseEvent.Kind.UPDATED,
            actor=FAMILY_ACTOR,
            reason="the family chose a time",
            details={"by": "family", "meeting": meeting.pk, "attendance": needs.attendance},
        )
    return meeting


@transaction.atomic
def family_request_new_time(*, meeting: Meeting, reason: str, now: datetime) -> CaseEvent:
    """The family cannot make the booked time: the meeting stays booked, the coordinator is alerted to find another."""
    attendee_model = optional_model("booking.MeetingAttendee")
    if attendee_model is not None:
        family_ids = [p.pk for p in family_members(meeting.case)]
        attendee_model.objects.filter(meeting=meeting, participant_id__in=family_ids).update(wants_another_time=True)
    event = _record(
        meeting.case,
        CaseEvent.Kind.UPDATED,
        actor=FAMILY_ACTOR,
        reason="the family cannot make this time and asks for new times" + (f": {reason}" if reason else ""),
        details={"by": "family", "meeting": meeting.pk, "request": "new_time", "coordinator_alert": True},
    )
    notifications.coordinator_alert(
        meeting.case,
        problem="The family cannot make the booked time and asks for new times. Offer them new times.",
        key=f"family-new-time:{meeting.pk}:{meeting.sequence}",
        now=now,
    )
    return event


@transaction.atomic
def family_cancel(*, meeting: Meeting, reason: str, now: datetime) -> Meeting:
    meeting = meeting_cancel(meeting=meeting, actor=FAMILY_ACTOR, cancelled_by="family", reason=reason, now=now)
    notifications.coordinator_alert(
        meeting.case,
        problem="The family cancelled the meeting. Contact them and offer new times.",
        key=f"family-cancelled:{meeting.pk}",
        now=now,
    )
    return meeting
