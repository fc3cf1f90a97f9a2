"""Bad input to every write endpoint: a 400 naming the field, one error shape, and nothing written."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import time_machine
from django.apps import apps

pytestmark = pytest.mark.django_db


def _snapshot() -> str:
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model._meta.app_label in {"core", "booking", "scheduling", "notifications", "auth", "authtoken"}:
            rows = list(model.objects.order_by("pk").values())
            digest.update(json.dumps(rows, default=str, sort_keys=True).encode())
    return digest.hexdigest()


def _writes(w: Any) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """A valid payload per write endpoint; each bad case below spoils one field of it."""
    ca, pa = w.case_a.pk, w.participant_a.pk
    case = {
        "provider": w.provider_a.pk,
        "local_authority": w.la_a.pk,
        "route": "education_social_care",
        "decision": "refuse_assessment",
        "decision_sent": "2026-10-30",
    }
    participant = {"role": "parent", "name": "Sam", "email": "sam@example.org", "mobile": "+447911123456"}
    mediator = {
        "provider": w.provider_a.pk,
        "name": "New Mediator",
        "email": "new@example.org",
        "accreditation_expires": "2028-01-31",
    }
    venue = {"owner": w.provider_a.pk, "name": "Hall", "address": "1 Street", "opens_at": "09:00", "closes_at": "17:00"}
    return {
        "case_create": ("post", "/api/cases/", case),
        "case_update": ("patch", f"/api/cases/{ca}/", {"issues": "x", "decision_sent": "2026-10-30"}),
        "case_transition": ("post", f"/api/cases/{ca}/transitions/", {"to": "issues_captured", "on": "2026-11-20"}),
        "participant_create": ("post", f"/api/cases/{ca}/participants/", participant),
        "participant_update": ("patch", f"/api/cases/{ca}/participants/{pa}/", participant),
        "mediator_create": ("post", "/api/mediators/", mediator),
        "mediator_update": ("patch", f"/api/mediators/{w.mediator_a.pk}/", {"max_meetings_per_day": 2}),
        "venue_create": ("post", "/api/venues/", venue),
        "venue_update": ("patch", f"/api/venues/{w.venue_a.pk}/", {"opens_at": "09:00", "closes_at": "17:00"}),
    }


# (endpoint, field to spoil, bad value, the field named in the error)
SPOILED = [
    ("case_create", "route", "mediation_by_carrier_pigeon", "route"),
    ("case_create", "decision", 42, "decision"),
    ("case_create", "decision_sent", "2026-02-30", "decision_sent"),
    ("case_create", "decision_sent", "next tuesday", "decision_sent"),
    ("case_create", "decision_sent", "2099-01-01", "decision_sent"),
    ("case_create", "la_notified", "2026-10-01", "la_notified"),  # before the decision was sent
    ("case_create", "placement_only", "yes", "placement_only"),
    ("case_create", "provider", "not-an-id", "provider"),
    ("case_create", "provider", 999999, "provider"),
    ("case_create", "icbs", {"id": 1}, "icbs"),
    ("case_create", "issues", {"text": "nested"}, "issues"),
    ("case_create", "route", "joint_health", "health_involved"),
    ("case_update", "decision_sent", "2026-13-01", "decision_sent"),
    ("case_update", "adviser_contacted", "2026-10-01", "adviser_contacted"),
    ("case_update", "short_notice_consent", 1, "short_notice_consent"),
    ("case_transition", "to", "teleported", "to"),
    ("case_transition", "on", "2026-11-31", "on"),
    ("case_transition", "on", "2030-01-01", "on"),
    ("participant_create", "mobile", "12345", "mobile"),
    ("participant_create", "mobile", "+44 7700 900 12", "mobile"),
    ("participant_create", "email", "not-an-email", "email"),
    ("participant_create", "role", "dragon", "role"),
    ("participant_create", "preferred_channels", ["carrier_pigeon"], "preferred_channels"),
    ("participant_create", "preferred_channels", "sms", "preferred_channels"),
    ("participant_create", "timezone", "Mars/Olympus_Mons", "timezone"),
    ("participant_create", "decision_authority", True, "decision_authority"),
    ("participant_update", "email", "@@", "email"),
    ("participant_update", "name", "", "name"),
    ("mediator_create", "accreditation_expires", "2028-02-30", "accreditation_expires"),
    ("mediator_create", "specialisms", ["astrology"], "specialisms"),
    ("mediator_create", "online", False, "online"),  # with in_person also false below
    ("mediator_create", "mobile", "0800", "mobile"),
    ("mediator_update", "max_meetings_per_day", 0, "max_meetings_per_day"),
    ("mediator_update", "max_meetings_per_day", "two", "max_meetings_per_day"),
    ("mediator_update", "timezone", "Europe/Londn", "timezone"),
    ("venue_create", "closes_at", "08:00", "closes_at"),  # closes before it opens
    ("venue_create", "opens_at", "25:00", "opens_at"),
    ("venue_create", "features", ["moat"], "features"),
    ("venue_create", "rooms", [{"name": "A"}, {"name": "A"}], "rooms"),
    ("venue_update", "closes_at", "06:00", "closes_at"),
]


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
@pytest.mark.parametrize(
    ("endpoint", "field", "value", "named"), SPOILED, ids=[f"{s[0]}-{s[1]}-{s[2]}" for s in SPOILED]
)
def test_spoiled_field_is_a_400_that_changes_nothing(
    world: Any, api: Any, endpoint: str, field: str, value: Any, named: str
) -> None:
    method, url, payload = _writes(world)[endpoint]
    payload = {**payload, field: value}
    if endpoint == "mediator_create" and field == "online":
        payload["in_person"] = False
    before = _snapshot()
    response = getattr(api(world.coordinator_a), method)(url, payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert named in body["extra"]["fields"], body
    assert all(isinstance(m, str) for m in body["extra"]["fields"][named]) or isinstance(
        body["extra"]["fields"][named], dict | list
    )
    assert _snapshot() == before


ENDPOINTS = [
    "case_create",
    "case_update",
    "case_transition",
    "participant_create",
    "participant_update",
    "mediator_create",
    "mediator_update",
    "venue_create",
    "venue_update",
]
SHAPES = [
    ("malformed JSON", '{"name": '),
    ("a JSON list", "[1, 2, 3]"),
    ("a JSON string", '"hello"'),
    ("null", "null"),
]


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("label", "raw"), SHAPES, ids=[s[0] for s in SHAPES])
def test_malformed_bodies_are_a_400_that_changes_nothing(
    world: Any, api: Any, endpoint: str, label: str, raw: str
) -> None:
    method, url, _ = _writes(world)[endpoint]
    before = _snapshot()
    response = getattr(api(world.coordinator_a), method)(url, raw, content_type="application/json")
    assert response.status_code == 400, (label, response.content)
    assert set(response.json()) == {"message", "extra"}
    assert _snapshot() == before


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_valid_payload_is_accepted(world: Any, api: Any, endpoint: str) -> None:
    """Guards the tests above: each spoiled payload differs from an accepted one by one field."""
    method, url, payload = _writes(world)[endpoint]
    response = getattr(api(world.coordinator_a), method)(url, payload, format="json")
    assert response.status_code in (200, 201), response.content


def test_a_form_encoded_body_is_refused_cleanly(world: Any, api: Any) -> None:
    response = api(world.coordinator_a).post("/api/cases/", "route=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert set(response.json()) == {"message", "extra"}
