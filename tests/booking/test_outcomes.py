"""Outcomes and agreed actions: reg 42 due dates, the move to concluded, private notes, overdue actions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from booking import outcomes, services
from booking.models import Case, FeedbackRequest, Meeting, Outcome
from tests.booking import helpers

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 27)  # a Friday
NOW = datetime(2026, 11, 27, 15, tzinfo=UTC)


def client(user: Any) -> APIClient:
    c = APIClient()
    c.force_authenticate(user=user)
    return c


def held_case(
    t: dict[str, Any],
    *,
    held_on: date,
    la_notified: date,
    decision_sent: date | None = None,
    mediator: Any = None,
    hours: int = 3,
    **fields: Any,
) -> Case:
    """A case whose meeting took place on `held_on` (10:00 UTC for `hours` hours) and is recorded as held."""
    case = helpers.case(
        t, la_notified=la_notified, state="scheduling", decision_sent=decision_sent or la_notified, **fields
    )
    m = mediator or helpers.mediator(t, name=f"Med{case.pk}")
    case.mediator = m
    case.save(update_fields=["mediator"])
    start = datetime.combine(held_on, time(10), tzinfo=UTC)
    Meeting.objects.create(
        case=case, uid=f"m-{case.pk}@test", start=start, end=start + timedelta(hours=hours), mode="online",
        mediator=m, notice_given_on=held_on - timedelta(days=10),
    )  # fmt: skip
    case = services.case_transition(
        case=case, actor=t["coordinator"], target="scheduled", today=t["today"], system=True
    )
    return services.case_transition(case=case, actor=t["coordinator"], target="held", on=held_on, today=t["today"])


ACTIONS = [
    {"owner": "la", "description": "Amend the plan", "appealable": True, "reg44_kind": "amend_plan"},
    {"owner": "icb", "description": "Speech therapy review", "appealable": False},
    {"owner": "la", "description": "Transport", "appealable": False, "agreed_in_writing": "2026-12-24"},
]


@time_machine.travel(NOW, tick=False)
def test_recording_a_full_agreement_concludes_the_case_and_dates_each_action_by_reg_42() -> None:
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    response = client(t["coordinator"]).post(
        f"/api/cases/{case.pk}/outcome/",
        {"result": "full", "summary": "Agreed", "private_notes": "Tense start", "actions": ACTIONS},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "concluded"
    outcome = body["outcome"]
    assert outcome["agreement_date"] == "2026-11-26"
    dues = {a["description"]: (a["due"], a["rule"]) for a in outcome["actions"]}
    assert dues["Amend the plan"][0] == "2026-12-31"  # 5 weeks (reg 42(2) and reg 44)
    assert "reg 42(2)" in dues["Amend the plan"][1] and "amend the plan" in dues["Amend the plan"][1]
    assert dues["Speech therapy review"][0] == "2026-12-10"  # 2 weeks (reg 42(3))
    assert dues["Transport"] == ("2026-12-24", dues["Transport"][1])
    assert "reg 42(5)" in dues["Transport"][1]
    case.refresh_from_db()
    assert case.state == "concluded"
    # 26 November (Thursday) + 3 working days = 1 December.
    assert case.certificate_due == date(2026, 12, 1)
    assert case.certificate_trigger == "mediation_concluded"
    assert Meeting.objects.get(case=case).status == "held"
    assert FeedbackRequest.objects.filter(case=case).count() == 1


@time_machine.travel(NOW, tick=False)
def test_the_la_cannot_act_as_mediator_or_adviser_but_can_mark_its_actions_done() -> None:
    """s.56: the LA is a party. Its coordinators may not record the outcome or issue the certificate."""
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    url = f"/api/cases/{case.pk}/outcome/"
    refused = client(t["officer"]).post(url, {"result": "none", "private_notes": "LA note"}, format="json")
    assert refused.status_code == 403
    assert not Outcome.objects.exists()
    assert client(t["officer"]).post(f"/api/cases/{case.pk}/certificate/").status_code == 403
    recorded = client(t["coordinator"]).post(url, {"result": "full", "actions": ACTIONS[:1]}, format="json")
    assert recorded.status_code == 201, recorded.content
    action = recorded.json()["outcome"]["actions"][0]
    more = client(t["officer"]).post(f"/api/cases/{case.pk}/actions/", ACTIONS[1], format="json")
    assert more.status_code == 403
    done = client(t["officer"]).patch(f"/api/actions/{action['id']}/", {"done": True}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["done_on"] == "2026-11-27"
    assert client(t["officer"]).post(f"/api/cases/{case.pk}/certificate/").status_code == 403
    assert not case.certificates.exists()


@time_machine.travel(NOW, tick=False)
def test_private_notes_are_for_the_mediator_and_the_providers_coordinators_only() -> None:
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    outcomes.outcome_record(
        case=case, actor=t["coordinator"], result="partial", private_notes="Mediator's own note", now=NOW, today=TODAY
    )
    url = f"/api/cases/{case.pk}/outcome/"
    la_view = client(t["officer"]).get(url).json()["outcome"]
    assert "private_notes" not in la_view
    assert "Mediator's own note" not in str(la_view)
    assert client(t["coordinator"]).get(url).json()["outcome"]["private_notes"] == "Mediator's own note"
    from django.contrib.auth import get_user_model

    mediator_user = get_user_model().objects.create_user("med-user", password="pw")
    case.mediator.user = mediator_user
    case.mediator.save(update_fields=["user"])
    assert client(mediator_user).get(url).json()["outcome"]["private_notes"] == "Mediator's own note"


@time_machine.travel(NOW, tick=False)
def test_the_mediator_can_record_the_outcome_but_the_la_cannot_see_their_notes() -> None:
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("mediator-2", password="pw")
    case.mediator.user = user
    case.mediator.save(update_fields=["user"])
    response = client(user).post(f"/api/cases/{case.pk}/outcome/", {"result": "none"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["outcome"]["agreement_date"] is None


@time_machine.travel(NOW, tick=False)
def test_overdue_actions_are_flagged_and_can_be_marked_done() -> None:
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 2), la_notified=date(2026, 10, 5))
    outcome = outcomes.outcome_record(
        case=case, actor=t["coordinator"], result="full", actions=[ACTIONS[1]], now=NOW, today=TODAY
    )
    action = outcome.actions.get()
    assert action.due == date(2026, 11, 16)
    body = client(t["coordinator"]).get(f"/api/cases/{case.pk}/actions/?overdue=true").json()
    assert [(a["id"], a["overdue"]) for a in body["results"]] == [(action.pk, True)]
    assert list(outcomes.action_list_overdue(user=t["coordinator"], today=TODAY)) == [action]
    response = client(t["coordinator"]).patch(f"/api/actions/{action.pk}/", {"done": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["done_on"] == "2026-11-27" and response.json()["overdue"] is False
    assert client(t["coordinator"]).get(f"/api/cases/{case.pk}/actions/?overdue=true").json()["results"] == []


@time_machine.travel(NOW, tick=False)
def test_an_outcome_needs_a_mediation_and_is_recorded_once() -> None:
    t = helpers.tenant(today=TODAY)
    early = helpers.case(t, la_notified=date(2026, 11, 20))
    response = client(t["coordinator"]).post(f"/api/cases/{early.pk}/outcome/", {"result": "full"}, format="json")
    assert response.status_code == 409
    assert "no mediation" in response.json()["message"]
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    url = f"/api/cases/{case.pk}/outcome/"
    assert client(t["coordinator"]).post(url, {"result": "full"}, format="json").status_code == 201
    assert client(t["coordinator"]).post(url, {"result": "none"}, format="json").status_code == 409
    assert Outcome.objects.get(case=case).result == "full"


@time_machine.travel(NOW, tick=False)
def test_bad_actions_are_a_400_that_records_nothing() -> None:
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    bad = {"owner": "la", "description": "Amend", "appealable": True}  # no reg 44 kind
    response = client(t["coordinator"]).post(
        f"/api/cases/{case.pk}/outcome/", {"result": "full", "actions": [bad]}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "actions.0.reg44_kind" in response.json()["extra"]["fields"]
    case.refresh_from_db()
    assert case.state == "held"
    assert not Outcome.objects.filter(case=case).exists()


@time_machine.travel(NOW, tick=False)
def test_withdrawal_cancels_the_meeting_still_to_come_and_starts_the_certificate_clock() -> None:
    t = helpers.tenant(today=TODAY)
    case = helpers.case(t, la_notified=date(2026, 11, 20), state="scheduling")
    m = helpers.mediator(t)
    start = datetime(2026, 12, 10, 10, tzinfo=UTC)
    Meeting.objects.create(
        case=case, uid="w@test", start=start, end=start + timedelta(hours=3), mode="online", mediator=m,
        notice_given_on=TODAY,
    )  # fmt: skip
    case = services.case_transition(case=case, actor=t["coordinator"], target="scheduled", today=TODAY, system=True)
    outcomes.outcome_record(case=case, actor=t["coordinator"], result="withdrawn", now=NOW, today=TODAY)
    case.refresh_from_db()
    assert case.state == "withdrawn"
    assert case.certificate_due == date(2026, 12, 2)
    meeting = Meeting.objects.get(case=case)
    assert (meeting.status, meeting.cancelled_by) == ("cancelled", "family")
