"""What a direct booking does on its way: a clear loser is refused before any lock, a winner moves the case through
both states in one write with both moves in the history, and the work per request stays small."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from booking import services
from booking.models import AuditEvent, CaseEvent, Meeting
from core.errors import ConflictError
from notifications.models import Message
from scheduling.models import Occupancy
from tests.booking import helpers

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
TODAY = date(2026, 11, 27)


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _payload(mediator: Any, day: int = 7) -> dict[str, Any]:
    return {"start": f"2026-12-{day:02d}T10:00Z", "end": f"2026-12-{day:02d}T13:00Z", "mediator": mediator.pk,
            "mode": "online"}  # fmt: skip


def _time_taken() -> tuple[APIClient, Any, Any]:
    """A coordinator's client, a mediator whose time (_payload) one case has booked, and another case."""
    t = helpers.tenant(today=TODAY)
    m = helpers.mediator(t)
    first, second = (helpers.case(t, la_notified=date(2026, 11, 20)) for _ in range(2))
    client = _client(t["coordinator"])
    assert client.post(f"/api/cases/{first.pk}/meetings/", _payload(m), format="json").status_code == 201
    return client, m, second


@time_machine.travel(NOW, tick=False)
def test_a_booking_of_a_taken_time_is_refused_before_any_lock_or_write() -> None:
    client, m, second = _time_taken()
    with CaptureQueriesContext(connection) as queries:
        refused = client.post(f"/api/cases/{second.pk}/meetings/", _payload(m), format="json")
    assert refused.status_code == 409
    assert "taken" in refused.json()["message"]
    statements = [q["sql"] for q in queries.captured_queries]
    # The memberships are read once, the case by its key, then the mediator and their calendar: nothing else.
    assert len(statements) == 4, statements
    assert not [s for s in statements if "FOR UPDATE" in s or "SAVEPOINT" in s or not s.startswith("SELECT")]
    second.refresh_from_db()
    assert second.state == "issues_captured"
    assert not Meeting.objects.filter(case=second).exists()


@time_machine.travel(NOW, tick=False)
def test_a_loser_is_refused_for_what_is_wrong_with_its_own_request_first() -> None:
    """The early refusal comes after the request's own checks: a bad request at a taken time is still a 400."""
    client, m, second = _time_taken()
    in_person_without_room = {**_payload(m), "mode": "in_person"}
    answer = client.post(f"/api/cases/{second.pk}/meetings/", in_person_without_room, format="json")
    assert answer.status_code == 400
    assert "room" in answer.json()["extra"]["fields"]


@time_machine.travel(NOW, tick=False)
def test_a_booking_moves_the_case_through_scheduling_to_scheduled_in_one_write() -> None:
    t = helpers.tenant(today=TODAY)
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    with CaptureQueriesContext(connection) as queries:
        booked = _client(t["coordinator"]).post(f"/api/cases/{case.pk}/meetings/", _payload(m), format="json")
    assert booked.status_code == 201, booked.content
    case.refresh_from_db()
    assert case.state == "scheduled" and case.mediator_id == m.pk
    moves = list(
        CaseEvent.objects.filter(case=case, kind="transition").order_by("id").values_list("to_state", "reason")
    )
    assert moves[-2:] == [("scheduling", ""), ("scheduled", "meeting 2026-12-07T10:00:00+00:00 confirmed")]
    case_updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "booking_case"')]
    assert len(case_updates) == 1
    changed = AuditEvent.objects.filter(object_type="case", object_id=case.pk, action="change").latest("id")
    assert {"state", "mediator_id"} <= set(changed.fields)


def test_a_refused_move_inside_a_transaction_leaves_it_usable() -> None:
    """A move checked under the caller's lock raises before writing anything, so the caller's transaction goes on."""
    t = helpers.tenant(today=TODAY)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    with transaction.atomic():
        with pytest.raises(ConflictError):
            services.case_transition(
                case=case, actor=t["coordinator"], target="held", today=TODAY, locked=True, via=["scheduling"]
            )
        assert case.state == "issues_captured"  # the first step, allowed, is undone on the object too
        assert CaseEvent.objects.filter(case=case).count() >= 1  # the transaction still answers
    case.refresh_from_db()
    assert case.state == "issues_captured"


@time_machine.travel(NOW, tick=False)
def test_a_booking_whose_officer_is_busy_is_a_clean_409_that_leaves_nothing_behind() -> None:
    """The mediator is free, but the LA officer already attends another mediator's meeting then. Nothing reads the
    officer's time before the booking's writes (a read every booking would pay for a mistake the slot search never
    offers): the resources' locks and the database's constraint refuse it, and the transaction takes everything back."""
    t = helpers.tenant(today=TODAY)
    first_mediator, second_mediator = helpers.mediator(t), helpers.mediator(t, name="Second")
    first, second = (helpers.case(t, la_notified=date(2026, 11, 20)) for _ in range(2))
    client = _client(t["coordinator"])
    assert client.post(f"/api/cases/{first.pk}/meetings/", _payload(first_mediator), format="json").status_code == 201
    counts = (Meeting.objects.count(), CaseEvent.objects.count(), Message.objects.count(), Occupancy.objects.count())
    refused = client.post(f"/api/cases/{second.pk}/meetings/", _payload(second_mediator), format="json")
    assert refused.status_code == 409 and "taken" in refused.json()["message"]
    assert (Meeting.objects.count(), CaseEvent.objects.count(), Message.objects.count(), Occupancy.objects.count()) == (
        counts
    )
    second.refresh_from_db()
    assert second.state == "issues_captured" and second.mediator_id is None
    assert client.get(f"/api/cases/{second.pk}/").status_code == 200  # the connection goes on answering


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("moves", [["not_arranged_30_days"], ["not_arranged_30_days", "scheduling"]])
def test_a_case_that_keeps_its_meeting_while_schedulable_again_is_refused_a_second(moves: list[str]) -> None:
    """A scheduled case whose meeting is late can be moved on to "not arranged within 30 days" (and back to
    scheduling), keeping its meeting, and a booking may start from either state. A second booking is refused by the
    database (one confirmed meeting per case) as a clean 409 that writes nothing."""
    t = helpers.tenant(today=TODAY)
    m = helpers.mediator(t)
    case = helpers.case(t, la_notified=date(2026, 11, 20))
    client = _client(t["coordinator"])
    assert client.post(f"/api/cases/{case.pk}/meetings/", _payload(m), format="json").status_code == 201
    for state in moves:
        moved = client.post(f"/api/cases/{case.pk}/transitions/", {"to": state}, format="json")
        assert moved.status_code == 200, moved.content
    counts = (Meeting.objects.count(), CaseEvent.objects.count(), Message.objects.count(), Occupancy.objects.count())
    again = client.post(f"/api/cases/{case.pk}/meetings/", _payload(m, day=8), format="json")
    assert again.status_code == 409, again.content
    assert "already has a confirmed meeting" in again.json()["message"]
    assert (Meeting.objects.count(), CaseEvent.objects.count(), Message.objects.count(), Occupancy.objects.count()) == (
        counts
    )
    case.refresh_from_db()
    assert case.state == moves[-1]
    assert Meeting.objects.filter(case=case, status="confirmed").count() == 1
