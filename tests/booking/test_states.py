"""The case state machine: legal moves, refusals with reasons, and the recorded history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from booking.states import MOVES, STATE_LABELS, State, next_states, refusal
from core.errors import ConflictError
from tests.conftest import TODAY


@dataclass
class FakeCase:
    health_involved: bool = False
    certificate_required: bool = True


def test_every_state_has_an_entry_and_every_move_targets_a_state() -> None:
    assert set(MOVES) == set(STATE_LABELS)
    for moves in MOVES.values():
        for move in moves:
            assert move.target in STATE_LABELS


@pytest.mark.parametrize(
    ("source", "target", "case", "expected"),
    [
        (State.ADVICE_REQUESTED, State.MEDIATION_REQUESTED, FakeCase(), None),
        (State.ADVICE_REQUESTED, State.DECLINED, FakeCase(), None),
        (State.ISSUES_CAPTURED, State.SCHEDULING, FakeCase(), None),
        (State.ISSUES_CAPTURED, State.ICB_NOTIFIED, FakeCase(health_involved=True), None),
        (State.ICB_NOTIFIED, State.SCHEDULING, FakeCase(health_involved=True), None),
        (State.SCHEDULING, State.NOT_ARRANGED_30_DAYS, FakeCase(), None),
        (State.NOT_ARRANGED_30_DAYS, State.SCHEDULING, FakeCase(), None),
        (State.HELD, State.CONCLUDED, FakeCase(), None),
        (State.CONCLUDED, State.CERTIFICATE_ISSUED, FakeCase(), None),
        (State.CONCLUDED, State.CLOSED, FakeCase(certificate_required=False), None),
        (State.DECLINED, State.CERTIFICATE_ISSUED, FakeCase(), None),
        (State.CERTIFICATE_ISSUED, State.ACTIONS_OPEN, FakeCase(), None),
    ],
)
def test_it_allows_legal_moves(source: str, target: str, case: FakeCase, expected: None) -> None:
    # A case becomes certificate issued only by issuing the certificate, which moves it (system).
    assert refusal(case, source, target, system=target == State.CERTIFICATE_ISSUED) is expected


@pytest.mark.parametrize(
    ("source", "target", "case", "says"),
    [
        (State.ADVICE_REQUESTED, State.HELD, FakeCase(), "cannot become held"),
        (State.CLOSED, State.SCHEDULING, FakeCase(), "It is closed"),
        (State.ISSUES_CAPTURED, State.SCHEDULING, FakeCase(health_involved=True), "notify the ICB first"),
        (State.ISSUES_CAPTURED, State.ICB_NOTIFIED, FakeCase(), "no health issues"),
        (State.SCHEDULING, State.SCHEDULED, FakeCase(), "when a meeting is confirmed"),
        (State.CONCLUDED, State.CLOSED, FakeCase(), "certificate is due first"),
        (State.DECLINED, State.CERTIFICATE_ISSUED, FakeCase(), "when its certificate is issued"),
        (State.HELD, "nonsense", FakeCase(), "is not a case state"),
    ],
)
def test_it_refuses_illegal_moves_and_says_why(source: str, target: str, case: FakeCase, says: str) -> None:
    message = refusal(case, source, target)
    assert message is not None and says in message


def test_issuing_a_certificate_the_case_does_not_need_is_refused() -> None:
    message = refusal(FakeCase(certificate_required=False), State.CONCLUDED, State.CERTIFICATE_ISSUED, system=True)
    assert message is not None and "No certificate is needed" in message


def test_system_moves_are_allowed_for_the_service() -> None:
    assert refusal(FakeCase(), State.SCHEDULING, State.SCHEDULED, system=True) is None


def test_next_states_hide_guarded_and_system_moves() -> None:
    assert next_states(FakeCase(), State.ISSUES_CAPTURED) == [
        State.SCHEDULING,
        State.WITHDRAWN,
        State.NOT_ARRANGED_30_DAYS,
    ]
    assert State.SCHEDULED not in next_states(FakeCase(), State.SCHEDULING)


def test_transitions_record_history_and_start_the_certificate_clock(world) -> None:  # type: ignore[no-untyped-def]
    from booking import services
    from booking.models import CaseEvent

    case = world.case_b  # advice_requested, decision sent 2026-11-02
    case = services.case_transition(
        case=case, actor=world.coordinator_b, target=State.DECLINED, reason="family declined", today=TODAY
    )
    assert case.state == State.DECLINED
    assert case.certificate_trigger == "declined"
    assert case.certificate_trigger_date == TODAY
    # Friday 27 November 2026 + 3 working days = Wednesday 2 December.
    assert case.certificate_due == date(2026, 12, 2)
    assert "3 working days" in case.deadline_rules["certificate"]["rule"]
    event = CaseEvent.objects.filter(case=case, kind="transition").get()
    assert (event.from_state, event.to_state, event.actor, event.reason) == (
        State.ADVICE_REQUESTED,
        State.DECLINED,
        world.coordinator_b,
        "family declined",
    )

    with pytest.raises(ConflictError, match="when its certificate is issued"):  # never by hand: issue it
        services.case_transition(case=case, actor=world.coordinator_b, target=State.CERTIFICATE_ISSUED, today=TODAY)
    case = services.case_transition(
        case=case, actor=world.coordinator_b, target=State.CERTIFICATE_ISSUED, today=TODAY, system=True
    )
    # Rule 20: later of decision sent + 2 months (2 Jan 2027) and certificate + 1 month (27 Dec 2026).
    assert case.appeal_deadline == date(2027, 1, 2)


def test_an_illegal_transition_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    from booking import services
    from booking.models import CaseEvent

    before = CaseEvent.objects.count()
    with pytest.raises(ConflictError):
        services.case_transition(case=world.case_b, actor=world.coordinator_b, target=State.HELD, today=TODAY)
    world.case_b.refresh_from_db()
    assert world.case_b.state == State.ADVICE_REQUESTED
    assert CaseEvent.objects.count() == before


def test_mediation_request_sets_the_30_day_clock(world) -> None:  # type: ignore[no-untyped-def]
    from booking import services

    case = services.case_transition(
        case=world.case_b,
        actor=world.coordinator_b,
        target=State.MEDIATION_REQUESTED,
        on=date(2026, 11, 20),
        today=TODAY,
    )
    assert case.la_notified == date(2026, 11, 20)
    assert case.mediation_due == date(2026, 12, 20)
