"""Which mediators may take a case, why the others may not, and in what order to suggest them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q

from booking.models import Case, Meeting, Participant
from booking.states import State
from scheduling import slots as engine
from scheduling.models import Mediator, MediatorConflict
from scheduling.search import FAIRNESS_DAYS, SlotQuery, case_slot_search

CLOSED_STATES = (State.CLOSED, State.DECLINED, State.WITHDRAWN, State.CERTIFICATE_ISSUED, State.ACTIONS_OPEN)


@dataclass
class Match:
    mediator: Mediator
    excluded_by: list[dict[str, str]] = field(default_factory=list)
    earliest: engine.Slot | None = None
    recent_assignments: int = 0
    continuity: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return not self.excluded_by


def _surname(name: str) -> str:
    return name.strip().split()[-1].lower() if name.strip() else ""


def _exclusions(
    mediator: Mediator,
    case: Case,
    *,
    today: date,
    family: list[Participant],
    active_cases: int,
    employers: set[int],
    conflicts: list[MediatorConflict],
) -> list[dict[str, str]]:
    out = []

    def exclude(rule: str, why: str) -> None:
        out.append({"rule": rule, "reason": why})

    if not mediator.active:
        exclude("active", "Not active.")
    if mediator.accreditation_expires < today:
        exclude("accreditation", f"Accreditation expired on {mediator.accreditation_expires:%-d %B %Y}.")
    case_bodies = {case.local_authority_id, *(icb.pk for icb in case.icbs.all())}
    if employers & case_bodies:
        exclude("independence", "Employed by the case's local authority or ICB, so not independent (s.56 CFA 2014).")
    surnames = {_surname(p.name) for p in family}
    for conflict in conflicts:
        text = conflict.description.strip().lower()
        if (
            (conflict.kind == MediatorConflict.Kind.FAMILY and _surname(text) in surnames)
            or (conflict.kind == MediatorConflict.Kind.SCHOOL and text and text in case.school_name.lower())
            or (conflict.organisation_id and conflict.organisation_id in case_bodies)
        ):
            exclude("conflict", f"Declared a conflict of interest ({conflict.get_kind_display().lower()}).")
    if case.health_involved and "health" not in mediator.specialisms:
        exclude("specialism", "The case involves health, and health is not among this mediator's specialisms.")
    if case.social_care_involved and "social_care" not in mediator.specialisms:
        exclude("specialism", "The case involves social care, which is not among this mediator's specialisms.")
    needed = case.needs_language.strip().lower()
    if needed and needed != "en" and not case.interpreter_arranged and needed not in mediator.languages:
        exclude("language", f"Does not work in {needed!r} and no interpreter is arranged.")
    covers = case.local_authority_id in {a.pk for a in mediator.areas.all()}
    if not covers and not mediator.online:
        exclude("area", "Does not cover this local authority and does not meet online.")
    if active_cases >= mediator.max_active_cases:
        exclude("capacity", f"Already has {active_cases} active cases (maximum {mediator.max_active_cases}).")
    return out


def mediator_matches(*, case: Case, now: datetime, today: date, continuity: bool = False) -> list[Match]:
    mediators = list(
        Mediator.objects.filter(provider_id=case.provider_id).prefetch_related("areas", "employers", "conflicts")
    )
    family = [p for p in case.participants.all() if p.role in Participant.FAMILY_ROLES]
    active = dict(
        Case.objects.filter(mediator__in=mediators)
        .exclude(state__in=CLOSED_STATES)
        .exclude(pk=case.pk)
        .values_list("mediator_id")
        .annotate(n=Count("pk"))
    )
    recent = dict(
        Meeting.objects.filter(mediator__in=mediators, created_at__gte=now - timedelta(days=FAIRNESS_DAYS))
        .exclude(status=Meeting.Status.CANCELLED)
        .values_list("mediator_id")
        .annotate(n=Count("pk"))
    )
    previous: set[int] = set()
    emails = [p.email for p in family if p.email]
    if continuity and emails:
        previous = set(
            Case.objects.filter(Q(participants__email__in=emails), mediator__isnull=False)
            .exclude(pk=case.pk)
            .values_list("mediator_id", flat=True)
        )
    matches = []
    for m in mediators:
        matches.append(
            Match(
                mediator=m,
                excluded_by=_exclusions(
                    m,
                    case,
                    today=today,
                    family=family,
                    active_cases=active.get(m.pk, 0),
                    employers={e.pk for e in m.employers.all()},
                    conflicts=list(m.conflicts.all()),
                ),
                recent_assignments=recent.get(m.pk, 0),
                continuity=m.pk in previous,
            )
        )
    eligible = [m for m in matches if m.eligible]
    if eligible:
        query = SlotQuery(limit=1, mediator_ids=tuple(m.mediator.pk for m in eligible))
        earliest = case_slot_search(case=case, query=query, now=now, per_mediator=True).earliest_by_mediator
        for m in eligible:
            m.earliest = earliest.get(m.mediator.pk)
    return sorted(matches, key=_rank_key)


def _rank_key(match: Match) -> tuple[Any, ...]:
    earliest = match.earliest.start.timestamp() if match.earliest else float("inf")
    return (not match.eligible, not match.continuity, earliest, match.recent_assignments, match.mediator.name)


def match_reasons(match: Match) -> list[str]:
    if not match.eligible:
        return [e["reason"] for e in match.excluded_by]
    reasons = []
    if match.continuity:
        reasons.append("has worked with this family before")
    if match.earliest:
        reasons.append("earliest time everyone can meet: " + match.earliest.start.isoformat())
    else:
        reasons.append("no time before the due date suits everyone")
    reasons.append(f"{match.recent_assignments} meetings in the last {FAIRNESS_DAYS} days")
    return reasons
