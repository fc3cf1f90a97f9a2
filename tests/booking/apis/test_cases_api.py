"""The case endpoints as their owner: create, read, change, move, history, participants."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model

from booking.models import Case, CaseEvent, Participant

pytestmark = pytest.mark.django_db
NOW = "2026-11-27T10:00:00Z"


def _new_case(world: Any, **extra: Any) -> dict[str, Any]:
    return {
        "provider": world.provider_a.pk,
        "local_authority": world.la_a.pk,
        "route": "education_social_care",
        "decision": "refuse_assessment",
        "decision_sent": "2026-10-30",
        "issues": "The LA refused to assess.",
        **extra,
    }


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_creates_a_case_with_its_deadlines(world: Any, api: Any) -> None:
    response = api(world.coordinator_a).post(
        "/api/cases/", _new_case(world, state="mediation_requested", la_notified="2026-11-20"), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "mediation_requested"
    assert body["reference"].startswith("MED-2026-")
    assert body["deadlines"]["contact"]["due"] == "2026-12-30"
    assert body["deadlines"]["mediation"]["due"] == "2026-12-20"
    assert "30 calendar days" in body["deadlines"]["mediation"]["rule"]
    assert body["deadlines"]["appeal"]["due"] == "2026-12-30"
    assert body["history"][0]["kind"] == "created"
    case = Case.objects.get(pk=body["id"])
    assert case.mediation_due == date(2026, 12, 20)
    assert case.created_by == world.coordinator_a


@time_machine.travel(NOW, tick=False)
def test_an_la_officer_can_create_a_case_for_their_authority(world: Any, api: Any) -> None:
    response = api(world.la_officer_a).post("/api/cases/", _new_case(world), format="json")
    assert response.status_code == 201


@time_machine.travel(NOW, tick=False)
def test_a_coordinator_cannot_create_a_case_for_another_tenant(world: Any, api: Any) -> None:
    payload = _new_case(world, provider=world.provider_b.pk, local_authority=world.la_b.pk)
    response = api(world.coordinator_a).post("/api/cases/", payload, format="json")
    assert response.status_code == 400
    assert "provider" in response.json()["extra"]["fields"]
    assert not Case.objects.filter(provider=world.provider_b).exclude(pk=world.case_b.pk).exists()


@time_machine.travel(NOW, tick=False)
def test_another_tenants_organisation_looks_like_one_that_does_not_exist(world: Any, api: Any) -> None:
    client = api(world.coordinator_a)
    theirs = client.post("/api/cases/", _new_case(world, provider=world.provider_b.pk), format="json")
    missing = client.post("/api/cases/", _new_case(world, provider=987654), format="json")
    assert theirs.status_code == missing.status_code == 400
    assert theirs.json()["extra"]["fields"]["provider"] == [
        m.replace("987654", str(world.provider_b.pk)) for m in missing.json()["extra"]["fields"]["provider"]
    ]


@time_machine.travel(NOW, tick=False)
def test_the_provider_must_serve_the_local_authority(world: Any, api: Any) -> None:
    # Another tenant's LA does not exist for the caller; an administrator, who sees every organisation, is told why.
    admin = get_user_model().objects.create_superuser("root-serve", password="pw")
    response = api(admin).post("/api/cases/", _new_case(world, local_authority=world.la_b.pk), format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["local_authority"] == [
        "This provider does not serve that local authority."
    ]


@time_machine.travel(NOW, tick=False)
def test_only_an_icb_the_local_authority_works_with_can_be_given_the_case(world: Any, api: Any) -> None:
    from core.models import Organisation

    stranger = Organisation.objects.create(kind="icb", name="Another ICB", code="icb-other")
    health = {"route": "joint_health", "health_involved": True}
    client = api(world.coordinator_a)
    unseen = client.post("/api/cases/", _new_case(world, icbs=[stranger.pk], **health), format="json")
    assert unseen.status_code == 400 and "does not exist" in unseen.json()["extra"]["fields"]["icbs"][0]
    admin = get_user_model().objects.create_superuser("root-icb", password="pw")  # sees every organisation
    refused = api(admin).post("/api/cases/", _new_case(world, icbs=[stranger.pk], **health), format="json")
    assert refused.status_code == 400
    assert refused.json()["extra"]["fields"]["icbs"] == [
        "Each of these must be an integrated care board the local authority works with."
    ]
    assert not Case.objects.filter(icbs=stranger).exists()
    moved = client.patch(f"/api/cases/{world.case_a.pk}/", {"icbs": [stranger.pk]}, format="json")
    assert moved.status_code == 400 and not Case.objects.filter(icbs=stranger).exists()
    created = client.post("/api/cases/", _new_case(world, icbs=[world.icb_a.pk], **health), format="json")
    assert created.status_code == 201, created.content


@time_machine.travel(NOW, tick=False)
def test_changing_a_clock_date_recomputes_the_deadlines_and_is_recorded(world: Any, api: Any) -> None:
    response = api(world.coordinator_a).patch(
        f"/api/cases/{world.case_a.pk}/", {"la_notified": "2026-11-18"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["deadlines"]["mediation"]["due"] == "2026-12-18"
    assert response.json()["deadlines"]["icb_notice"]["due"] == "2026-11-23"
    event = CaseEvent.objects.filter(case=world.case_a, kind="updated").get()
    assert event.details["changed"]["la_notified"] == ["2026-11-16", "2026-11-18"]


@time_machine.travel(NOW, tick=False)
def test_the_history_says_the_childs_details_changed_but_keeps_no_value(world: Any, api: Any) -> None:
    """Everyone who reads the case reads its history: a corrected name (perhaps another family's child) must go."""
    old = world.case_a.child_name
    response = api(world.coordinator_a).patch(
        f"/api/cases/{world.case_a.pk}/", {"child_name": "Corrected Name", "issues": "Fresh wording"}, format="json"
    )
    assert response.status_code == 200, response.json()
    event = CaseEvent.objects.filter(case=world.case_a, kind="updated").get()
    assert event.details["changed"] == {"child_name": None, "issues": None}
    history = api(world.health_a).get(f"/api/cases/{world.case_a.pk}/history/").content.decode()
    assert "Corrected Name" not in history and (not old or old not in history)


@time_machine.travel(NOW, tick=False)
def test_a_transition_moves_the_case_and_an_illegal_one_is_a_409(world: Any, api: Any) -> None:
    client = api(world.coordinator_a)
    url = f"/api/cases/{world.case_a.pk}/transitions/"
    ok = client.post(url, {"to": "issues_captured", "reason": "issues agreed"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["state"] == "issues_captured"
    assert ok.json()["next_states"] == ["icb_notified", "withdrawn", "not_arranged_30_days"]

    refused = client.post(url, {"to": "scheduling"}, format="json")
    assert refused.status_code == 409
    assert "notify the ICB first" in refused.json()["message"]
    assert refused.json()["extra"] == {"state": "issues_captured", "requested": "scheduling"}

    system_only = client.post(url, {"to": "scheduled"}, format="json")
    assert system_only.status_code == 409
    world.case_a.refresh_from_db()
    assert world.case_a.state == "issues_captured"

    history = client.get(f"/api/cases/{world.case_a.pk}/history/").json()["results"]
    moves = [(e["from_state"], e["to_state"], e["actor"], e["reason"]) for e in history if e["kind"] == "transition"]
    assert moves == [("mediation_requested", "issues_captured", "alice", "issues agreed")]


@time_machine.travel(NOW, tick=False)
def test_cases_can_be_filtered(world: Any, api: Any) -> None:
    client = api(world.coordinator_a)
    assert client.get("/api/cases/?state=mediation_requested").json()["count"] == 1
    assert client.get("/api/cases/?state=closed").json()["count"] == 0
    assert client.get("/api/cases/?mediation_due_before=2026-12-31").json()["count"] == 1
    assert client.get("/api/cases/?state=bogus").status_code == 400


def test_participants_are_added_changed_and_removed(world: Any, api: Any) -> None:
    client = api(world.coordinator_a)
    url = f"/api/cases/{world.case_a.pk}/participants/"
    created = client.post(
        url,
        {
            "role": "supporter",
            "name": "Pat Ellis",
            "mobile": "07911 123456",
            "email": "pat@example.org",
            "preferred_channels": ["sms"],
            "relationship": "SENDIASS adviser",
            "step_free_access": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["mobile"] == "+447911123456"
    assert body["required"] is False  # supporters are optional by default
    pid = body["id"]
    changed = client.patch(f"{url}{pid}/", {"interpreter_language": "pl"}, format="json")
    assert changed.status_code == 200
    assert Participant.objects.get(pk=pid).interpreter_language == "pl"
    assert client.delete(f"{url}{pid}/").status_code == 204
    assert not Participant.objects.filter(pk=pid).exists()
    assert client.get(f"{url}{pid}/").status_code == 404


def test_token_authentication_works(world: Any) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert token.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert client.get(f"/api/cases/{world.case_a.pk}/").status_code == 200
    bad = APIClient().post("/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json")
    assert bad.status_code == 400


def test_a_token_is_checked_in_one_query_and_refused_when_unknown_or_its_user_inactive(world: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from core.authentication import TokenAuthentication

    alice = get_user_model().objects.get(username="alice")
    key = Token.objects.create(user=alice).key
    with CaptureQueriesContext(connection) as queries:
        user, token = TokenAuthentication().authenticate_credentials(key)
    assert (user, token.key, token.user) == (alice, key, alice) and len(queries) == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"/api/cases/{world.case_a.pk}/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {key[:-1]}x")
    unknown = client.get(f"/api/cases/{world.case_a.pk}/")
    assert unknown.status_code == 401 and unknown.json()["message"] == "Invalid token."
    assert unknown["WWW-Authenticate"] == "Token"
    alice.is_active = False
    alice.save()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    inactive = client.get(f"/api/cases/{world.case_a.pk}/")
    assert inactive.status_code == 401 and inactive.json()["message"] == "User inactive or deleted."


def test_history_written_before_the_rule_loses_the_childs_details_once_migrated(world: Any) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("booking.migrations.0007_history_keeps_no_personal_values")
    from django.utils import timezone

    old = CaseEvent.objects.create(
        case=world.case_a, kind="updated", at=timezone.now(),
        details={"changed": {"child_name": ["Old Name", "New Name"], "la_notified": ["2026-11-16", "2026-11-18"]}},
    )  # fmt: skip
    migration.blank_personal_values(apps, None)
    old.refresh_from_db()
    assert old.details["changed"] == {"child_name": None, "la_notified": ["2026-11-16", "2026-11-18"]}
