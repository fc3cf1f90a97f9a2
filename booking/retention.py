"""Data protection: anonymising closed cases after their retention period, exporting and erasing one person's data.

Anonymising blanks personal data (names, addresses, numbers, the child's details, the issues, notes and free-text
reasons) and keeps everything the reports count (states, dates, outcomes, scores, message statuses), so the figures
are the same before and after. Rows are changed with ``update()``, which leaves ``updated_at`` alone, and each change
is written to the audit trail by name of field.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from booking import statutory
from booking.audit import audit_record
from booking.models import (
    AgreedAction,
    AuditEvent,
    Case,
    CaseAnonymisation,
    CaseEvent,
    FeedbackRequest,
    Meeting,
    MeetingAttendee,
    Outcome,
    Participant,
    ParticipantUnavailability,
    RetentionPolicy,
)
from booking.states import State
from core.clock import local_today
from core.errors import ConflictError
from core.models import Membership
from core.tenancy import organisation_ids_for

ANONYMISED = "Anonymised"
CASE_PERSONAL = {name: None if name == "child_date_of_birth" else "" for name in Case.PERSONAL_FIELDS}
PARTICIPANT_PERSONAL = {
    "name": ANONYMISED, "email": "", "mobile": "", "access_notes": "", "relationship": "", "interpreter_language": "",
}  # fmt: skip


def retention_years(case: Case) -> int:
    """The LA's policy (usually the controller), else the provider's, else 6 years."""
    policies = {
        p.organisation_id: p.years_after_closure
        for p in RetentionPolicy.objects.filter(organisation_id__in=[case.local_authority_id, case.provider_id])
    }
    return policies.get(case.local_authority_id) or policies.get(case.provider_id) or RetentionPolicy.DEFAULT_YEARS


def closed_on(case: Case) -> date | None:
    event = case.events.filter(kind=CaseEvent.Kind.TRANSITION, to_state=State.CLOSED).order_by("-at").first()
    return local_today(event.at) if event else None


def retention_expires(case: Case) -> date | None:
    closed = closed_on(case)
    return statutory.add_months(closed, 12 * retention_years(case)) if closed else None


def _scrub_details(details: dict[str, Any]) -> dict[str, Any]:
    """Keep which fields changed, drop the values."""
    if "changed" in details and isinstance(details["changed"], dict):
        return {**details, "changed": {name: None for name in details["changed"]}}
    return details


def _anonymise_participants(participants: QuerySet[Participant]) -> None:
    ids = list(participants.values_list("pk", flat=True))
    if not ids:
        return
    rows = Participant.objects.filter(pk__in=ids)
    by_case = dict(rows.values_list("pk", "case_id"))
    rows.update(**PARTICIPANT_PERSONAL)
    ParticipantUnavailability.objects.filter(participant_id__in=ids).update(note="")
    MeetingAttendee.objects.filter(participant_id__in=ids).update(name=ANONYMISED, email="")
    FeedbackRequest.objects.filter(participant_id__in=ids).update(comment="")
    _anonymise_messages(Q(participant_id__in=ids))
    for pk in ids:
        audit_record(
            action=AuditEvent.Action.CHANGE,
            object_type="participant",
            object_id=pk,
            case_id=by_case[pk],
            fields=list(PARTICIPANT_PERSONAL),
        )


def _anonymise_messages(where: Q) -> None:
    from notifications.models import Message

    Message.objects.filter(where).update(to="", recipient_name="", context={}, last_error="")


@transaction.atomic
def case_anonymise(*, case: Case, reason: str, now: datetime) -> bool:
    """Remove the personal data of one case. Returns False when it was already done."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    if CaseAnonymisation.objects.filter(case=case).exists():
        return False
    Case.objects.filter(pk=case.pk).update(**CASE_PERSONAL)
    _anonymise_participants(case.participants.all())
    MeetingAttendee.objects.filter(meeting__case=case).update(name=ANONYMISED, email="")
    Meeting.objects.filter(case=case).update(cancel_reason="")
    for event in case.events.all():
        CaseEvent.objects.filter(pk=event.pk).update(reason="", details=_scrub_details(event.details))
    Outcome.objects.filter(case=case).update(summary="", private_notes="")
    AgreedAction.objects.filter(outcome__case=case).update(description="")
    FeedbackRequest.objects.filter(case=case).update(comment="")
    _anonymise_messages(Q(case=case))
    CaseAnonymisation.objects.create(case=case, at=now, reason=reason)
    audit_record(
        action=AuditEvent.Action.CHANGE,
        object_type="case",
        object_id=case.pk,
        case_id=case.pk,
        fields=list(CASE_PERSONAL),
    )
    return True


def retention_due(*, today: date) -> list[Case]:
    """Closed, not yet anonymised cases whose retention period has ended."""
    candidates = Case.objects.filter(state=State.CLOSED, anonymisation__isnull=True)
    return [case for case in candidates if (expires := retention_expires(case)) is not None and expires <= today]


def retention_apply(*, now: datetime) -> int:
    """The daily job. Each case is its own transaction; running it again finds nothing left to do."""
    today = local_today(now)
    return sum(
        case_anonymise(case=case, reason="retention period ended", now=now) for case in retention_due(today=today)
    )


# --- one person --------------------------------------------------------------------------------------------------


def _coordinated_cases(user: Any) -> QuerySet[Case]:
    if user.is_superuser:
        return Case.objects.all()
    mine = organisation_ids_for(user, Membership.Role.COORDINATOR)
    return Case.objects.filter(Q(provider_id__in=mine) | Q(local_authority_id__in=mine))


def person_participations(*, user: Any, email: str) -> QuerySet[Participant]:
    """The participant rows with this address on the cases the coordinator looks after; 404 when there are none."""
    rows = Participant.objects.filter(email__iexact=email.strip(), case__in=_coordinated_cases(user).values("pk"))
    rows = rows.select_related("case", "case__local_authority", "case__provider").order_by("case_id", "pk")
    if not rows.exists():
        raise Http404
    return rows


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def person_export(*, user: Any, email: str) -> dict[str, Any]:
    """Everything held about the person with this address, on the cases this coordinator looks after."""
    from notifications.models import Message

    participants = list(person_participations(user=user, email=email))
    ids = [p.pk for p in participants]
    cases = []
    for p in participants:
        case = p.case
        entry: dict[str, Any] = {
            "reference": case.reference,
            "local_authority": case.local_authority.name,
            "provider": case.provider.name,
            "state": case.state,
            "role": p.role,
            "participant": {
                f.name: _iso(getattr(p, f.attname)) for f in Participant._meta.concrete_fields if f.name != "case"
            },
            "unavailable_times": [
                {"weekday": u.weekday, "start": _iso(u.start_time), "end": _iso(u.end_time), "note": u.note}
                for u in p.unavailable_times.all()
            ],
        }
        if p.is_family:
            entry["case"] = {name: _iso(getattr(case, name)) for name in [*CASE_PERSONAL, "decision", "route"]}
            entry["case"].update(
                {name: _iso(getattr(case, name)) for name in ("decision_sent", "la_notified", "held_on")}
            )
        cases.append(entry)
    attendances = MeetingAttendee.objects.filter(participant_id__in=ids).select_related("meeting")
    messages = Message.objects.filter(Q(participant_id__in=ids) | Q(to__iexact=email.strip()))
    messages = messages.filter(case__in=[p.case_id for p in participants])
    feedback = FeedbackRequest.objects.filter(participant_id__in=ids)
    return {
        "email": email.strip(),
        "cases": cases,
        "meetings": [
            {
                "start": _iso(a.meeting.start),
                "end": _iso(a.meeting.end),
                "mode": a.meeting.mode,
                "status": a.meeting.status,
                "name": a.name,
                "email": a.email,
                "answer": a.partstat,
                "answered_at": _iso(a.responded_at),
            }
            for a in attendances
        ],
        "messages": [
            {
                "kind": m.kind,
                "channel": m.channel,
                "to": m.to,
                "status": m.status,
                "due_at": _iso(m.due_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in messages.order_by("due_at", "pk")
        ],
        "feedback": [{"score": f.score, "comment": f.comment, "answered_at": _iso(f.answered_at)} for f in feedback],
    }


@transaction.atomic
def person_erase(*, user: Any, email: str, now: datetime) -> int:
    """Erase one person's data where the law allows it: only when every case they are on is closed (while a case is
    open the data is needed to run it and meet the statutory duties). Returns how many rows were anonymised."""
    participants = person_participations(user=user, email=email)
    open_cases = sorted({(p.case.reference, p.case.state) for p in participants if p.case.state != State.CLOSED})
    if open_cases:
        raise ConflictError(
            "This person is on a case that is still open; their data is needed until it closes.",
            {"open_cases": [{"reference": ref, "state": state} for ref, state in open_cases]},
        )
    count = participants.count()
    _anonymise_messages(Q(to__iexact=email.strip(), case__in=participants.values("case_id")))
    _anonymise_participants(participants)
    return count
