"""The mediation case's state machine (DOMAIN.md section 8, "States").

Pure data and rules: which moves exist, which need a condition on the case, and which only the service itself may
make (a case becomes "scheduled" only when a meeting is confirmed). No ORM here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class State:
    ADVICE_REQUESTED = "advice_requested"
    MEDIATION_REQUESTED = "mediation_requested"
    ISSUES_CAPTURED = "issues_captured"
    ICB_NOTIFIED = "icb_notified"
    SCHEDULING = "scheduling"
    SCHEDULED = "scheduled"
    HELD = "held"
    CONCLUDED = "concluded"
    CERTIFICATE_ISSUED = "certificate_issued"
    ACTIONS_OPEN = "actions_open"
    CLOSED = "closed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    NOT_ARRANGED_30_DAYS = "not_arranged_30_days"


STATE_CHOICES = [
    (State.ADVICE_REQUESTED, "Advice requested"),
    (State.MEDIATION_REQUESTED, "Mediation requested"),
    (State.ISSUES_CAPTURED, "Issues captured"),
    (State.ICB_NOTIFIED, "ICB notified"),
    (State.SCHEDULING, "Scheduling"),
    (State.SCHEDULED, "Scheduled"),
    (State.HELD, "Held"),
    (State.CONCLUDED, "Concluded"),
    (State.CERTIFICATE_ISSUED, "Certificate issued"),
    (State.ACTIONS_OPEN, "Agreed actions open"),
    (State.CLOSED, "Closed"),
    (State.DECLINED, "Mediation declined"),
    (State.WITHDRAWN, "Withdrawn"),
    (State.NOT_ARRANGED_30_DAYS, "30 days cannot be met"),
]
STATE_LABELS = dict(STATE_CHOICES)
INITIAL_STATES = (State.ADVICE_REQUESTED, State.MEDIATION_REQUESTED)
# States in which the case still needs a meeting: the slot engine and offers work on these.
SCHEDULABLE_STATES = (State.ISSUES_CAPTURED, State.ICB_NOTIFIED, State.SCHEDULING, State.NOT_ARRANGED_30_DAYS)


class CaseLike(Protocol):
    health_involved: bool

    @property
    def certificate_required(self) -> bool: ...


Guard = Callable[[Any], "str | None"]


def _needs_health(case: CaseLike) -> str | None:
    if not case.health_involved:
        return "This case has no health issues, so there is no ICB to notify."
    return None


def _icb_first(case: CaseLike) -> str | None:
    if case.health_involved:
        return "Health provision is in dispute: notify the ICB first (due within 3 working days of the LA being told)."
    return None


def _needs_certificate(case: CaseLike) -> str | None:
    if not case.certificate_required:
        return "No certificate is needed for this case (placement-only, health-only or disagreement resolution)."
    return None


def _no_certificate(case: CaseLike) -> str | None:
    if case.certificate_required:
        return "A certificate is due first: issue it before closing the case."
    return None


@dataclass(frozen=True)
class Move:
    target: str
    guard: Guard | None = None
    system_only: bool = False


_CLOSING_BRANCHES = (Move(State.WITHDRAWN), Move(State.NOT_ARRANGED_30_DAYS))

MOVES: dict[str, tuple[Move, ...]] = {
    State.ADVICE_REQUESTED: (Move(State.MEDIATION_REQUESTED), Move(State.DECLINED), Move(State.CLOSED)),
    State.MEDIATION_REQUESTED: (Move(State.ISSUES_CAPTURED), Move(State.WITHDRAWN)),
    State.ISSUES_CAPTURED: (
        Move(State.ICB_NOTIFIED, _needs_health),
        Move(State.SCHEDULING, _icb_first),
        *_CLOSING_BRANCHES,
    ),
    State.ICB_NOTIFIED: (Move(State.SCHEDULING), *_CLOSING_BRANCHES),
    State.SCHEDULING: (Move(State.SCHEDULED, system_only=True), *_CLOSING_BRANCHES),
    State.SCHEDULED: (Move(State.HELD), Move(State.SCHEDULING, system_only=True), *_CLOSING_BRANCHES),
    State.NOT_ARRANGED_30_DAYS: (
        Move(State.SCHEDULING),
        Move(State.SCHEDULED, system_only=True),
        Move(State.WITHDRAWN),
        Move(State.CLOSED),
    ),
    State.HELD: (Move(State.CONCLUDED),),
    State.CONCLUDED: (
        Move(State.CERTIFICATE_ISSUED, _needs_certificate, system_only=True),
        Move(State.ACTIONS_OPEN, _no_certificate),
        Move(State.CLOSED, _no_certificate),
    ),
    State.DECLINED: (
        Move(State.CERTIFICATE_ISSUED, _needs_certificate, system_only=True),
        Move(State.CLOSED, _no_certificate),
    ),
    State.WITHDRAWN: (
        Move(State.CERTIFICATE_ISSUED, _needs_certificate, system_only=True),
        Move(State.CLOSED, _no_certificate),
    ),
    State.CERTIFICATE_ISSUED: (Move(State.ACTIONS_OPEN), Move(State.CLOSED)),
    State.ACTIONS_OPEN: (Move(State.CLOSED),),
    State.CLOSED: (),
}

# Moves that start the 3-working-day certificate clock, with the trigger name the statutory clock uses.
CERTIFICATE_TRIGGERS = {
    State.DECLINED: "declined",
    State.WITHDRAWN: "withdrawn",
    State.CONCLUDED: "mediation_concluded",
    State.NOT_ARRANGED_30_DAYS: "not_arranged_30_days",
}


def refusal(case: Any, source: str, target: str, *, system: bool = False) -> str | None:
    """Why the move from `source` to `target` is not allowed, or None when it is."""
    if target not in STATE_LABELS:
        return f"{target!r} is not a case state."
    for move in MOVES.get(source, ()):
        if move.target != target:
            continue
        if move.system_only and not system:
            if target == State.CERTIFICATE_ISSUED:
                return "A case becomes certificate issued when its certificate is issued (POST …/certificate/)."
            return (
                f"A case becomes {STATE_LABELS[target].lower()} by itself when a meeting is confirmed or cancelled; "
                "it cannot be set by hand."
            )
        return move.guard(case) if move.guard else None
    allowed = ", ".join(STATE_LABELS[m.target].lower() for m in MOVES.get(source, ()) if not m.system_only)
    return f"A case that is {STATE_LABELS[source].lower()} cannot become {STATE_LABELS[target].lower()}." + (
        f" It can become: {allowed}." if allowed else " It is closed."
    )


def next_states(case: Any, source: str) -> list[str]:
    return [m.target for m in MOVES.get(source, ()) if not m.system_only and not (m.guard and m.guard(case))]
