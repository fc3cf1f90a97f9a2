"""Reads for the pages. Tenancy comes from booking.selectors; this module only shapes what the pages show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Exists, OuterRef, QuerySet

from booking.models import Case, CaseEvent, Meeting, Offer, Participant
from booking.selectors import case_list
from booking.states import SCHEDULABLE_STATES, STATE_CHOICES
from core.models import Membership, Organisation
from core.tenancy import organisation_ids_for
from scheduling.models import Mediator

MAIN_FAMILY_ROLES = (Participant.Role.PARENT, Participant.Role.YOUNG_PERSON, Participant.Role.ALTERNATIVE_PERSON)
RISK_DAYS = 7


def optional_model(label: str) -> Any:
    """A model that another part of the service may add (attendee answers, the outbox); None while it is absent."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def family_members(case: Case) -> list[Participant]:
    return list(case.participants.filter(role__in=MAIN_FAMILY_ROLES).order_by("pk"))


def offer_meeting(offer: Offer) -> Meeting | None:
    return (
        Meeting.objects.select_related("room__venue", "case__provider")
        .filter(offer_slot__offer=offer)
        .order_by("-created_at")
        .first()
    )


def family_contact(case: Case | None) -> Organisation | None:
    return case.provider if case is not None else None


# While the 30 days run: until the meeting has been held (the clock means nothing after, and "overdue" would be noise).
MEDIATION_CLOCK_STATES = (*SCHEDULABLE_STATES, "mediation_requested", "scheduled")


def risk_reasons(
    *, state: str, has_meeting: bool, mediation_due: date | None, certificate_due: date | None,
    certificate_issued_on: date | None, today: date, late_meeting: bool = False, certificate_trigger: str | None = None,
) -> list[str]:  # fmt: skip
    reasons = []
    if state in SCHEDULABLE_STATES and not has_meeting and mediation_due is not None:
        if (mediation_due - today).days <= RISK_DAYS:
            reasons.append("No confirmed meeting and mediation is due within 7 days")
    if late_meeting and state == "scheduled" and certificate_trigger != "not_arranged_30_days":
        reasons.append("The meeting is after the mediation due date: record that 30 days cannot be met")
    if certificate_due is not None and certificate_issued_on is None and (certificate_due - today).days <= 1:
        reasons.append("Certificate due tomorrow or overdue")
    return reasons


@dataclass
class CaseRow:
    case: Case
    has_meeting: bool
    risks: list[str] = field(default_factory=list)

    @property
    def mediation_clock(self) -> bool:
        return self.case.state in MEDIATION_CLOCK_STATES


def dashboard_rows(*, user: Any, today: date, state: str = "") -> list[CaseRow]:
    confirmed = Meeting.objects.filter(case=OuterRef("pk"), status=Meeting.Status.CONFIRMED)
    qs = case_list(user=user, filters={"state": state} if state else None).annotate(
        has_meeting=Exists(confirmed), late_meeting=Exists(confirmed.filter(late=True))
    )
    rows = []
    for case in qs.order_by("mediation_due", "reference"):
        row = CaseRow(case, case.has_meeting)
        row.risks = risk_reasons(
            state=case.state, has_meeting=case.has_meeting, mediation_due=case.mediation_due,
            certificate_due=case.certificate_due, certificate_issued_on=case.certificate_issued_on, today=today,
            late_meeting=case.late_meeting, certificate_trigger=case.certificate_trigger,
        )  # fmt: skip
        rows.append(row)
    rows.sort(key=lambda r: (not r.risks,))
    return rows


def state_counts(*, user: Any) -> list[tuple[str, str, int]]:
    counts: dict[str, int] = {}
    for value in case_list(user=user).values_list("state", flat=True):
        counts[value] = counts.get(value, 0) + 1
    return [(value, label, counts[value]) for value, label in STATE_CHOICES if counts.get(value)]


def is_coordinator(user: Any) -> bool:
    return user.is_superuser or bool(organisation_ids_for(user, Membership.Role.COORDINATOR))


def mediator_for(user: Any) -> Mediator | None:
    return Mediator.objects.filter(user_id=user.pk).select_related("provider").first()


def mediator_upcoming(*, mediator: Mediator, now: datetime) -> QuerySet[Meeting]:
    return (
        Meeting.objects.filter(mediator=mediator, status=Meeting.Status.CONFIRMED, end__gte=now)
        .select_related("case", "room__venue")
        .order_by("start")
    )


@dataclass
class AttendeeRow:
    name: str
    role: str
    answer: str | None  # None when answers are not recorded (no attendee model)


def meeting_attendees(meeting: Meeting) -> list[AttendeeRow]:
    model = optional_model("booking.MeetingAttendee")
    if model is not None:
        rows = model.objects.filter(meeting=meeting, active=True).select_related("participant")
        if rows:
            return [
                AttendeeRow(
                    a.name,
                    a.participant.get_role_display() if a.participant else "",
                    a.get_partstat_display() + (" (asked for another time)" if a.wants_another_time else ""),
                )
                for a in rows
            ]
    return [AttendeeRow(p.name, p.get_role_display(), None) for p in meeting.case.participants.all()]


def case_messages(case: Case) -> list[Any]:
    model = optional_model("notifications.Message")
    if model is None:
        return []
    return list(model.objects.filter(case=case).order_by("-created_at")[:50])


def current_meeting(case: Case) -> Meeting | None:
    return case.meetings.filter(status=Meeting.Status.CONFIRMED).select_related("room__venue", "mediator").first()


def current_offer(case: Case) -> Offer | None:
    return case.offers.order_by("-created_at").first()


def case_history(case: Case) -> QuerySet[CaseEvent]:
    return case.events.select_related("actor").order_by("-at", "-id")


def is_recent(moment: datetime, now: datetime, *, days: int = 1) -> bool:
    return now - moment < timedelta(days=days)
