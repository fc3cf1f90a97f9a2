"""Commissioners' figures per local authority and month.

The selectors below read plain rows (dates, statuses, durations) for the cases in scope; ``figures`` and the helpers
it calls are pure functions over those rows. Nothing here reads a name, an address or a free-text field, so
anonymising a case (retention) leaves every figure unchanged.

Which month a row counts in: a request by the day the LA was told; a mediation by the day it was held; a certificate
by its issue date; a cancellation by the day the meeting was to take place; an outcome by the mediation date;
messages by when they were due; feedback by when it was asked for. Months are Europe/London calendar months.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.http import Http404

from booking import statutory
from booking.models import Case, Certificate, FeedbackRequest, Meeting, Outcome
from core.models import Membership, Organisation
from core.tenancy import organisation_ids_for

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ATTEMPTED = ("sent", "delivered", "failed", "suppressed")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, value: str) -> Month:
        match = MONTH.match(value or "")
        if not match or not 2000 <= int(match[1]) < 2100:
            raise ValueError("Give the month as YYYY-MM between 2000 and 2099, for example 2026-11.")
        return cls(int(match[1]), int(match[2]))

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first(self) -> date:
        return statutory.add_months(self.first, 1)

    @property
    def last(self) -> date:
        return self.next_first - timedelta(days=1)

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        zone = ZoneInfo(tz)
        return datetime.combine(self.first, time(), zone), datetime.combine(self.next_first, time(), zone)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# --- who may see which figures ------------------------------------------------------------------------------------


def report_authorities(*, user: Any) -> list[Organisation]:
    """The local authorities whose figures this user may see."""
    las = Organisation.objects.filter(kind=Organisation.Kind.LOCAL_AUTHORITY)
    if user.is_superuser:
        return list(las)
    own = organisation_ids_for(user, Membership.Role.COMMISSIONER, Membership.Role.COORDINATOR)
    return list(las.filter(Q(pk__in=own) | Q(providers__in=own)).distinct())


def report_scope(*, user: Any, local_authority_id: int) -> tuple[Organisation, Q]:
    """The LA and the filter on its cases: the LA's own staff see all its cases, a provider's coordinators the cases
    their provider runs for it. Anyone else gets a 404."""
    la = Organisation.objects.filter(pk=local_authority_id, kind=Organisation.Kind.LOCAL_AUTHORITY).first()
    if la is None or not user.is_authenticated:
        raise Http404
    if user.is_superuser:
        return la, Q(local_authority=la)
    if la.pk in organisation_ids_for(user, Membership.Role.COMMISSIONER, Membership.Role.COORDINATOR):
        return la, Q(local_authority=la)
    providers = organisation_ids_for(user, Membership.Role.COORDINATOR) & set(la.providers.values_list("pk", flat=True))
    if not providers:
        raise Http404
    return la, Q(local_authority=la, provider_id__in=providers)


# --- rows ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    weekday: int
    start: time
    end: time
    valid_from: date | None = None
    valid_until: date | None = None


@dataclass
class Rows:
    requested_on: list[date] = field(default_factory=list)
    held: list[tuple[date, date | None, date | None]] = field(default_factory=list)  # held_on, due, la_notified
    certificates: list[tuple[str, date, date]] = field(default_factory=list)  # kind, issued_on, due_on
    cancelled_by: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    meetings: list[tuple[int, str, float]] = field(default_factory=list)  # mediator id, name, hours
    availability: dict[int, tuple[list[Window], set[date]]] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)  # channel, status
    feedback: list[int | None] = field(default_factory=list)


def report_rows(*, scope: Q, month: Month) -> Rows:
    from notifications.models import Message
    from scheduling.models import AvailabilityException, AvailabilityRule

    cases = Case.objects.filter(scope)
    ids = cases.values("pk")
    start, end = month.bounds(settings.DISPLAY_TIME_ZONE)
    in_month = {"gte": month.first, "lt": month.next_first}
    rows = Rows()
    rows.requested_on = list(
        cases.filter(la_notified__gte=in_month["gte"], la_notified__lt=in_month["lt"]).values_list(
            "la_notified", flat=True
        )
    )
    rows.held = list(
        cases.filter(held_on__gte=in_month["gte"], held_on__lt=in_month["lt"]).values_list(
            "held_on", "mediation_due", "la_notified"
        )
    )
    rows.certificates = list(
        Certificate.objects.filter(case__in=ids, issued_on__gte=month.first, issued_on__lt=month.next_first)
        .values_list("kind", "issued_on", "due_on")
        .order_by("pk")
    )
    meetings = Meeting.objects.filter(case__in=ids, start__gte=start, start__lt=end)
    rows.cancelled_by = list(
        meetings.filter(status=Meeting.Status.CANCELLED).values_list("cancelled_by", flat=True).order_by("pk")
    )
    rows.outcomes = list(
        Outcome.objects.filter(case__in=ids, mediation_date__gte=month.first, mediation_date__lt=month.next_first)
        .values_list("result", flat=True)
        .order_by("pk")
    )
    for mediator_id, name, m_start, m_end in meetings.exclude(status=Meeting.Status.CANCELLED).values_list(
        "mediator_id", "mediator__name", "start", "end"
    ):
        rows.meetings.append((mediator_id, name, (m_end - m_start).total_seconds() / 3600))
    mediator_ids = {m[0] for m in rows.meetings}
    for mediator_id in mediator_ids:
        rules = [
            Window(r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_until)
            for r in AvailabilityRule.objects.filter(resource__mediator_id=mediator_id)
        ]
        off: set[date] = set()
        for e in AvailabilityException.objects.filter(
            resource__mediator_id=mediator_id, kind="off", start_time__isnull=True, first_day__lte=month.last,
            last_day__gte=month.first,
        ):  # fmt: skip
            off.update(e.first_day + timedelta(days=i) for i in range((e.last_day - e.first_day).days + 1))
        rows.availability[mediator_id] = (rules, off)
    rows.messages = list(
        Message.objects.filter(case__in=ids, due_at__gte=start, due_at__lt=end)
        .values_list("channel", "status")
        .order_by("pk")
    )
    rows.feedback = list(
        FeedbackRequest.objects.filter(case__in=ids, created_at__gte=start, created_at__lt=end)
        .values_list("score", flat=True)
        .order_by("pk")
    )
    return rows


# --- pure aggregation ---------------------------------------------------------------------------------------------


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def available_hours(windows: list[Window], off_days: set[date], month: Month) -> float:
    """Hours in the mediator's weekly windows over the month, without their days off and bank holidays."""
    total = 0.0
    day = month.first
    while day < month.next_first:
        bank_holiday = day.weekday() < 5 and not statutory.is_working_day(day)
        if day not in off_days and not bank_holiday:
            for w in windows:
                valid = (w.valid_from is None or w.valid_from <= day) and (
                    w.valid_until is None or day <= w.valid_until
                )
                if w.weekday == day.weekday() and valid:
                    minutes = (w.end.hour * 60 + w.end.minute) - (w.start.hour * 60 + w.start.minute)
                    total += minutes / 60
        day += timedelta(days=1)
    return total


def _utilisation(rows: Rows, month: Month) -> dict[str, Any]:
    per: dict[int, dict[str, Any]] = {}
    for mediator_id, name, hours in rows.meetings:
        entry = per.setdefault(mediator_id, {"mediator": name, "meetings": 0, "hours": 0.0})
        entry["meetings"] += 1
        entry["hours"] += hours
    mediators = []
    for mediator_id, entry in sorted(per.items(), key=lambda item: item[1]["mediator"]):
        windows, off = rows.availability.get(mediator_id, ([], set()))
        available = available_hours(windows, off, month)
        mediators.append(
            {
                **entry,
                "hours": round(entry["hours"], 2),
                "available_hours": round(available, 2),
                "utilisation": round(entry["hours"] / available, 4) if available else None,
            }
        )
    hours = sum(m["hours"] for m in mediators)
    available_total = sum(m["available_hours"] for m in mediators)
    return {
        "mediators": mediators,
        "hours": round(hours, 2),
        "available_hours": round(available_total, 2),
        "utilisation": round(hours / available_total, 4) if available_total else None,
    }


def _delivery(messages: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for channel in ("email", "sms"):
        statuses = Counter(status for ch, status in messages if ch == channel)
        attempted = sum(statuses[s] for s in ATTEMPTED)
        out[channel] = {
            "total": sum(statuses.values()),
            "by_status": {s: statuses.get(s, 0) for s in ("pending", "sending", *ATTEMPTED, "cancelled")},
            "success_share": share(statuses["sent"] + statuses["delivered"], attempted),
            "delivered_share": share(statuses["delivered"], attempted) if channel == "sms" else None,
        }
    return out


def _feedback(scores: list[int | None]) -> dict[str, Any]:
    answered = [s for s in scores if s is not None]
    return {
        "asked": len(scores),
        "answered": len(answered),
        "response_share": share(len(answered), len(scores)),
        "mean_score": round(statistics.mean(answered), 2) if answered else None,
        "scores": {str(n): answered.count(n) for n in range(1, 6)},
    }


def figures(rows: Rows, month: Month) -> dict[str, Any]:
    held_within = sum(1 for held, due, _ in rows.held if due is not None and held <= due)
    on_time = sum(1 for _, issued, due in rows.certificates if issued <= due)
    days = [(held - told).days for held, _, told in rows.held if told is not None]
    return {
        "requests": len(rows.requested_on),
        "mediations_held": len(rows.held),
        "held_within_30_days": held_within,
        "held_within_30_days_share": share(held_within, len(rows.held)),
        "certificates_issued": len(rows.certificates),
        "certificates_within_3_working_days": on_time,
        "certificates_within_3_working_days_share": share(on_time, len(rows.certificates)),
        "certificates_by_kind": {k: sum(1 for c in rows.certificates if c[0] == k) for k in Certificate.Kind.values},
        "deemed_certificates": sum(1 for c in rows.certificates if c[0] == Certificate.Kind.NOT_ARRANGED_30_DAYS),
        "cancellations": len(rows.cancelled_by),
        "cancellations_by": {k: rows.cancelled_by.count(k) for k in Meeting.CancelledBy.values},
        "outcomes": {k: rows.outcomes.count(k) for k in Outcome.Result.values},
        "median_days_la_told_to_meeting": statistics.median(days) if days else None,
        "mediator_utilisation": _utilisation(rows, month),
        "message_delivery": _delivery(rows.messages),
        "feedback": _feedback(rows.feedback),
    }


def report_get(*, user: Any, local_authority_id: int, month: Month) -> dict[str, Any]:
    la, scope = report_scope(user=user, local_authority_id=local_authority_id)
    return {
        "local_authority": {"id": la.pk, "name": la.name},
        "month": str(month),
        "figures": figures(report_rows(scope=scope, month=month), month),
    }


def report_csv_rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """(local authority, month, figure, value), with nested figures named by their path (feedback.mean_score)."""
    out: list[tuple[str, str, str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}", inner)
        else:
            out.append((report["local_authority"]["name"], report["month"], prefix, "" if value is None else value))

    walk("", report["figures"])
    return out
