"""Booking, rescheduling and cancelling meetings: every resource's time taken together, or nothing."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction

from booking import statutory
from booking.models import Case, CaseEvent, Meeting, Participant
from booking.services import _record, case_transition
from booking.states import SCHEDULABLE_STATES, State
from core.errors import ApplicationError, ConflictError
from notifications import services as notifications
from scheduling.models import Mediator, Occupancy, Room
from scheduling.occupancy import (
    Claim,
    SlotTakenError,
    lock_resources,
    mediator_time_taken,
    occupy,
    resource_ids_for,
    take_turn,
)

STAFF_ROLES = (Participant.Role.LA_OFFICER, Participant.Role.HEALTH_REPRESENTATIVE)
MAX_AHEAD = timedelta(days=2 * 366)


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE)).date()


def meeting_claims(
    *,
    case: Case,
    mediator: Mediator,
    room: Room | None,
    start: datetime,
    end: datetime,
    participants: list[Participant] | None = None,
) -> list[Claim]:
    """What a meeting occupies: the mediator with their buffers (always the first claim), the room, and each required
    staff participant.
    `participants`: the case's, when the caller has read them already."""
    if participants is None:
        participants = _participants(case)
    staff = [p for p in participants if p.role in STAFF_ROLES and p.required and p.user_id is not None]
    mediator_id, room_id, staff_ids = resource_ids_for(
        mediator=mediator,
        room=room,
        staff=[(p.user_id, p.organisation_id or case.local_authority_id) for p in staff],
    )
    claims = [
        Claim(
            mediator_id,
            start - timedelta(minutes=mediator.buffer_before_minutes),
            end + timedelta(minutes=mediator.buffer_after_minutes),
        )
    ]
    if room_id is not None:
        claims.append(Claim(room_id, start, end))
    claims.extend(Claim(resource_id, start, end) for resource_id in staff_ids)
    return claims


def _participants(case: Case) -> list[Participant]:
    return list(case.participants.all())


def check_bookable(
    *,
    case: Case,
    mediator: Mediator,
    room: Room | None,
    mode: str,
    start: datetime,
    end: datetime,
    now: datetime,
    notice_from: date | None = None,
) -> bool:
    """The rules a meeting must meet whoever books it. Raises ApplicationError (400) or ConflictError (409).
    `notice_from`: the day the family was given notice of this date and place (default today). Returns whether the
    family's agreement to shorter notice is what allows it."""
    errors: dict[str, list[str]] = {}
    if end <= start:
        errors["end"] = ["The meeting must end after it starts."]
    elif end - start > timedelta(hours=8):
        errors["end"] = ["A meeting lasts at most 8 hours."]
    if mediator.provider_id != case.provider_id or not mediator.active:
        errors["mediator"] = ["Choose an active mediator of this case's provider."]
    elif mediator.accreditation_expires < local_day(start):
        errors["mediator"] = ["This mediator's accreditation will have expired by then."]
    if mode == "in_person" and room is None:
        errors["room"] = ["An in-person meeting needs a room."]
    elif room is not None and (
        room.venue.owner_id not in (case.provider_id, case.local_authority_id) or not room.venue.active
    ):
        errors["room"] = ["Not a room this case can use."]
    if mode == "online" and room is not None:
        errors["room"] = ["An online meeting has no room."]
    if mode == "online" and not mediator.online or mode == "in_person" and not mediator.in_person:
        errors["mode"] = [f"This mediator does not meet {mode.replace('_', ' ')}."]
    if start > now + MAX_AHEAD:
        errors["start"] = ["A meeting is booked at most 2 years ahead."]
    if errors:
        raise ApplicationError("The meeting details are not valid.", {"fields": errors})
    if start <= now:
        raise ConflictError("That time has already passed.")
    earliest = statutory.earliest_meeting_date(notice_from or local_day(now))
    if local_day(start) >= earliest:
        return False
    if not case.short_notice_consent:
        raise ConflictError(
            f"The family must have at least 5 working days' notice: the earliest day is {earliest:%A %-d %B %Y}, "
            "unless the family agrees in writing to less (record their agreement on the case: short_notice_consent).",
            {"earliest_day": earliest.isoformat()},
        )
    return True


def _short_notice_used(case: Case, meeting: Meeting, actor: Any) -> None:
    """The family agreed to shorter notice for this date and place: the agreement is spent on it, and recorded with
    it. Another short-notice date needs their agreement again."""
    Case.objects.filter(pk=case.pk).update(short_notice_consent=False)
    case.short_notice_consent = False
    _record(
        case,
        CaseEvent.Kind.UPDATED,
        actor=actor,
        reason=f"shorter notice, as the family agreed, for the meeting on {local_day(meeting.start):%-d %B %Y}",
        details={"meeting": meeting.pk, "short_notice": True},
    )


def case_lock(case_id: int) -> Case:
    """Lock the case's row for the rest of the transaction. Every change to a case's bookings takes this lock first
    (then the offer or meeting, then the resources in id order), so two such changes can never wait on each other in
    a cycle; only a booking's turn (`take_turn`, which is taken holding nothing) comes before it."""
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("provider__reminders", "local_authority")
        .get(pk=case_id)
    )


def _new_uid() -> str:
    return f"mediation-{uuid.uuid4()}@{settings.SITE_URL.split('://', 1)[-1].split('/')[0].split(':')[0]}"


def _second_confirmed_meeting(exc: IntegrityError) -> bool:
    """Whether an insert broke one_confirmed_meeting_per_case. PostgreSQL names the constraint; SQLite names its
    column (the meeting's only other unique column is its new UID)."""
    diagnosis = getattr(exc.__cause__, "diag", None)
    if diagnosis is not None:
        return diagnosis.constraint_name == "one_confirmed_meeting_per_case"
    return "UNIQUE constraint failed: booking_meeting.case_id" in str(exc)


def _assert_schedulable(case: Case) -> None:
    if case.state not in SCHEDULABLE_STATES:
        raise ConflictError(
            f"A case that is {case.get_state_display().lower()} cannot be booked.", {"state": case.state}
        )


def meeting_book(
    *,
    case: Case,
    actor: Any,
    start: datetime,
    end: datetime,
    mediator: Mediator,
    room: Room | None,
    mode: str,
    now: datetime,
    offer_slot: Any = None,
    release: Any = None,
    notice_from: date | None = None,
) -> Meeting:
    """Book the meeting: every resource it needs is taken, or none (SlotTakenError, 409), and the case moves to
    scheduled. `release`: the occupancies this booking replaces (an accepted offer's holds). `notice_from`: the day
    the family was told of this date and place, if before today (an offer names each time and place it holds).

    A booking that has clearly lost (the mediator's time already taken) is refused on the case as the caller read it,
    before a transaction starts: in a race for one time, most requests end there. Everything is checked again under
    the locks."""
    if release is None:
        _assert_schedulable(case)
        check_bookable(
            case=case, mediator=mediator, room=room, mode=mode, start=start, end=end, now=now, notice_from=notice_from
        )
        if mediator_time_taken(mediator, start, end, now=now):
            raise SlotTakenError("That time has already been taken.")
    with transaction.atomic():
        # First the mediator's turn for the day, holding nothing yet: a racer for the same time waits here for the
        # winner's commit, then finds the time taken with one read, before it locks or reads anything of its case.
        take_turn(mediator.pk, start)
        if release is None and mediator_time_taken(mediator, start, end, now=now):
            raise SlotTakenError("That time has just been taken.")
        case = case_lock(case.pk)
        _assert_schedulable(case)
        short_notice = check_bookable(
            case=case, mediator=mediator, room=room, mode=mode, start=start, end=end, now=now, notice_from=notice_from
        )
        participants = _participants(case)
        claims = meeting_claims(
            case=case, mediator=mediator, room=room, start=start, end=end, participants=participants
        )
        late = case.mediation_due is not None and local_day(end) > case.mediation_due
        # A schedulable case may still have a confirmed meeting: a late one, kept when the case was moved on to
        # "not arranged within 30 days" (and perhaps back to scheduling). The database refuses a second
        # (one_confirmed_meeting_per_case), so no read is spent on it first.
        try:
            meeting = Meeting.objects.create(
                case=case,
                uid=_new_uid(),
                start=start,
                end=end,
                mode=mode,
                mediator=mediator,
                room=room,
                late=late,
                notice_given_on=notice_from or local_day(now),
                offer_slot=offer_slot,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
        except IntegrityError as exc:
            if not _second_confirmed_meeting(exc):
                raise
            raise ConflictError("This case already has a confirmed meeting: reschedule it instead.") from None
        if short_notice:
            _short_notice_used(case, meeting, actor)
        notifications.meeting_confirmed(meeting, now=now, participants=participants, new_meeting=True)
        _calendar_changed(meeting)
        case.mediator = mediator  # written with the move below
        case_transition(
            case=case,
            actor=actor,
            target=State.SCHEDULED,
            via=[State.SCHEDULING] if case.state in (State.ISSUES_CAPTURED, State.ICB_NOTIFIED) else [],
            today=local_day(now),
            system=True,
            reason=f"meeting {start.isoformat()} confirmed",
            locked=True,
        )
        # Last: the resources' locks are held from here to the commit, so bookings of one mediator queue only for this.
        occupy(claims=claims, kind="meeting", meeting=meeting, now=now, release=release)
        return meeting


def _assert_free_for_everyone(
    *, case: Case, meeting: Meeting, room: Room | None, mode: str, start: datetime, end: datetime, now: datetime
) -> None:
    """A meeting moves only to a time the slot search would offer: inside the working hours of its mediator, room and
    staff (weekly times, days off, bank holidays, their calendars' busy time) and the family's, on the 15-minute
    grid. Its own time counts as free. A time agreed outside them is first added as extra time where it is missing."""
    from scheduling.search import SlotQuery, case_slot_search

    query = SlotQuery(
        duration=end - start,
        after=start,
        before=end,
        limit=1,
        allow_late=True,
        mediator_ids=(meeting.mediator_id,),
        mode=mode,
        room_ids=(room.pk,) if room is not None else None,
        free_meeting=meeting.pk,
    )
    found = case_slot_search(case=case, query=query, now=now).slots
    if not found or found[0].start != start:
        raise ConflictError(
            f"{start.isoformat()} is outside the working hours of someone this meeting needs, or not on the "
            "15-minute grid. Choose a time from the slot search, or add the agreed time as extra availability first.",
            {"start": start.isoformat()},
        )


@transaction.atomic
def meeting_reschedule(
    *, meeting: Meeting, actor: Any, start: datetime, end: datetime, room: Room | None, mode: str, now: datetime
) -> Meeting:
    case = case_lock(meeting.case_id)
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status != Meeting.Status.CONFIRMED:
        raise ConflictError(f"A {meeting.get_status_display().lower()} meeting cannot be moved.")
    meeting.case = case
    if (start, end, room.pk if room else None, mode) == (meeting.start, meeting.end, meeting.room_id, meeting.mode):
        raise ApplicationError("Nothing would change: give a new start, end, room or mode.", {"fields": {}})
    short_notice = check_bookable(
        case=case, mediator=meeting.mediator, room=room, mode=mode, start=start, end=end, now=now
    )
    if (start, end) != (meeting.start, meeting.end):  # a new room or mode at the same time keeps the time as agreed
        _assert_free_for_everyone(case=case, meeting=meeting, room=room, mode=mode, start=start, end=end, now=now)
    previous = (meeting.start, meeting.end, meeting.room_id, meeting.mode)
    occupy(
        claims=meeting_claims(case=case, mediator=meeting.mediator, room=room, start=start, end=end),
        kind="meeting",
        meeting=meeting,
        now=now,
        release=Occupancy.objects.filter(meeting=meeting, active=True),
    )
    meeting.start, meeting.end, meeting.room, meeting.mode = start, end, room, mode
    meeting.sequence += 1
    meeting.late = case.mediation_due is not None and local_day(end) > case.mediation_due
    meeting.notice_given_on = local_day(now)
    meeting.save()
    # Answers were to the old time: everyone is asked again (RFC 6638 section 3.2.8).
    meeting.attendees.update(partstat="NEEDS-ACTION", wants_another_time=False)
    if short_notice:
        _short_notice_used(case, meeting, actor)
    _record(
        case,
        CaseEvent.Kind.UPDATED,
        actor=actor,
        reason="meeting rescheduled",
        details={
            "meeting": meeting.pk,
            "from": previous[0].isoformat(),
            "to": start.isoformat(),
        },
    )
    notifications.meeting_changed(meeting, now=now)
    _calendar_changed(meeting)
    return meeting


@transaction.atomic
def meeting_cancel(*, meeting: Meeting, actor: Any, cancelled_by: str, reason: str, now: datetime) -> Meeting:
    case = case_lock(meeting.case_id)
    meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status != Meeting.Status.CONFIRMED:
        raise ConflictError(f"This meeting is already {meeting.get_status_display().lower()}.")
    meeting.case = case
    held = Occupancy.objects.filter(meeting=meeting, active=True)
    lock_resources(held.values_list("resource_id", flat=True))
    held.update(active=False)
    meeting.status = Meeting.Status.CANCELLED
    meeting.cancelled_by = cancelled_by
    meeting.cancel_reason = reason
    meeting.sequence += 1
    meeting.save()
    if case.state == State.SCHEDULED:
        case_transition(
            case=case,
            actor=actor,
            target=State.SCHEDULING,
            today=local_day(now),
            system=True,
            reason=f"meeting cancelled by {meeting.get_cancelled_by_display()}: {reason}",
            locked=True,
        )
    else:
        _record(
            case,
            CaseEvent.Kind.UPDATED,
            actor=actor,
            reason=f"meeting cancelled by {meeting.get_cancelled_by_display()}: {reason}",
            details={"meeting": meeting.pk},
        )
    notifications.meeting_cancelled(meeting, now=now)
    _calendar_changed(meeting)
    return meeting


def _calendar_changed(meeting: Meeting) -> None:
    """After commit, hand the meeting to the calendar push (connected CalDAV calendars), if that is set up."""
    try:
        from scheduling.caldav.push import calendar_meeting_changed
    except ImportError:
        return
    transaction.on_commit(lambda: calendar_meeting_changed(meeting.pk))
