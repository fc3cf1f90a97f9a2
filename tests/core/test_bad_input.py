"""Bad input to every write endpoint: a 400 naming the field, one error shape, and nothing written."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone

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
        **_after_meeting_writes(w),
    }


def _after_meeting_writes(w: Any) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """A held case, a concluded one with an action, and a closed one with a person to erase; made once per test."""
    from datetime import date

    from booking import outcomes, services
    from booking.models import Participant

    if not hasattr(w, "after_meeting"):
        today, actor = date(2026, 11, 27), w.coordinator_a

        def case(*targets: str) -> Any:
            c = services.case_create(
                actor=actor, provider=w.provider_a, local_authority=w.la_a, route="education_social_care",
                decision="plan_contents", decision_sent=date(2026, 11, 2), la_notified=date(2026, 11, 2),
                state="mediation_requested", today=today,
            )  # fmt: skip
            for target in targets:
                on = date(2026, 11, 26) if target == "held" else None
                c = services.case_transition(
                    case=c, actor=actor, target=target, on=on, today=today, system=target == "scheduled"
                )
            return c

        held = case("issues_captured", "scheduling", "scheduled", "held")
        concluded = case("issues_captured", "scheduling", "scheduled", "held")
        outcome = outcomes.outcome_record(
            case=concluded, actor=actor, result="full", now=timezone.now(), today=today,
            actions=[{"owner": "la", "description": "Review", "appealable": False}],
        )  # fmt: skip
        closed = services.case_create(
            actor=actor, provider=w.provider_a, local_authority=w.la_a, route="education_social_care",
            decision="no_plan", today=today,
        )  # fmt: skip
        Participant.objects.create(case=closed, role="parent", name="Gone", email="gone@example.org")
        services.case_transition(case=closed, actor=actor, target="closed", today=today)
        w.after_meeting = (held.pk, concluded.pk, outcome.actions.get().pk)
    held_id, concluded_id, action_id = w.after_meeting
    action = {"owner": "la", "description": "Amend", "appealable": True, "reg44_kind": "amend_plan"}
    return {
        "outcome_record": (
            "post",
            f"/api/cases/{held_id}/outcome/",
            {"result": "full", "mediation_date": "2026-11-26", "actions": [action]},
        ),
        "action_create": (
            "post",
            f"/api/cases/{concluded_id}/actions/",
            {**action, "appealable": False, "reg44_kind": ""},
        ),
        "action_update": ("patch", f"/api/actions/{action_id}/", {"done": True, "done_on": "2026-11-27"}),
        "people_erase": ("post", "/api/people/erase/", {"email": "gone@example.org"}),
    }


# (endpoint, field to spoil, bad value, the field named in the error)
SPOILED = [
    ("case_create", "route", "mediation_by_carrier_pigeon", "route"),
    ("case_create", "decision", 42, "decision"),
    ("case_create", "decision_sent", "2026-02-30", "decision_sent"),
    ("case_create", "decision_sent", "next tuesday", "decision_sent"),
    ("case_create", "decision_sent", "2099-01-01", "decision_sent"),
    ("case_create", "decision_sent", "0001-01-01", "decision_sent"),  # before the duties began
    ("case_create", "la_notified", "2026-10-01", "la_notified"),  # before the decision was sent
    ("case_create", "placement_only", "yes", "placement_only"),
    ("case_create", "provider", "not-an-id", "provider"),
    ("case_create", "provider", 999999, "provider"),
    ("case_create", "icbs", {"id": 1}, "icbs"),
    ("case_create", "icbs", list(range(1, 22)), "icbs"),  # more than 20: refused before any is looked up
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
    ("venue_create", "opens_at", "09:00+05:00", "opens_at"),  # a wall-clock time: an offset would be dropped
    ("venue_create", "features", ["moat"], "features"),
    ("venue_create", "rooms", [{"name": "A"}, {"name": "A"}], "rooms"),
    ("venue_update", "closes_at", "06:00", "closes_at"),
    ("venue_update", "rooms", [{"capacity": 3}], "rooms"),  # a room without a name
    ("outcome_record", "result", "triumph", "result"),
    ("outcome_record", "mediation_date", "2026-02-30", "mediation_date"),
    ("outcome_record", "mediation_date", "2099-01-01", "mediation_date"),
    ("outcome_record", "agreement_date", "2026-11-01", "agreement_date"),  # before the mediation
    ("outcome_record", "la_was_party", "yes", "la_was_party"),
    ("outcome_record", "actions", [{"owner": "council"}], "actions"),
    ("action_create", "owner", "council", "owner"),
    ("action_create", "appealable", "no", "appealable"),
    ("action_create", "reg44_kind", "soon", "reg44_kind"),
    ("action_create", "agreed_in_writing", "2026-11-01", "agreed_in_writing"),  # before the agreement
    ("action_update", "done", "yes", "done"),
    ("action_update", "done_on", "2099-01-01", "done_on"),
    ("people_erase", "email", "not-an-email", "email"),
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
    "outcome_record",
    "action_create",
    "action_update",
    "people_erase",
]
SHAPES = [
    ("malformed JSON", '{"name": '),
    ("a JSON list", "[1, 2, 3]"),
    ("a JSON string", '"hello"'),
    ("null", "null"),
    ("nested 1,000 deep", "[" * 1000 + "]" * 1000),
    ("a lone surrogate", '{"route": "\\ud800", "name": "\\udfff"}'),
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
    before = _snapshot()
    multipart = api(world.coordinator_a).post(f"/api/cases/{world.case_a.pk}/offers/", {"count": 1}, format="multipart")
    assert multipart.status_code == 415, multipart.content  # not an empty body acted on with defaults
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("get", "/m/%00/", None, 404),  # the SMS short link
        ("get", "/calendar/%00.ics", None, 404),  # a mediator's feed
        ("get", "/respond/a%00b/", None, 404),
        ("get", "/api/cases/?local_authority=%00", None, 400),
        ("post", "/webhooks/twilio/status/?m=%00", {"MessageStatus": "delivered"}, 400),
        ("post", "/sign-in/", {"username": "a\x00b", "password": "x"}, 400),
    ],
)
def test_a_nul_byte_anywhere_is_refused_before_the_database_sees_it(
    world: Any, api: Any, method: str, path: str, data: Any, status: int
) -> None:
    """PostgreSQL cannot store or compare a NUL byte: it would be a 500 there, and stored as given on SQLite."""
    before = _snapshot()
    client = api(world.coordinator_a)
    response = client.get(path) if method == "get" else client.post(path, data)
    assert response.status_code == status, response.content[:300]
    if path.startswith("/api/"):
        assert set(response.json()) == {"message", "extra"}
    assert _snapshot() == before
    nul_key = api(None).get("/api/cases/", HTTP_AUTHORIZATION="Token ab\x00cd")
    assert nul_key.status_code == 401


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
@pytest.mark.parametrize(
    "path",
    [
        "slots/?before=9999-12-31T00:00:00Z",
        "slots/?after=0001-01-01T00:00:00Z",
    ],
)
def test_times_far_from_now_are_a_400(world: Any, api: Any, path: str) -> None:
    response = api(world.coordinator_a).get(f"/api/cases/{world.case_a.pk}/{path}")
    assert response.status_code == 400, response.content
    assert "after" in response.json()["extra"]["fields"] or "before" in response.json()["extra"]["fields"]


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
def test_a_meeting_far_ahead_or_long_ago_is_refused(world: Any, api: Any) -> None:
    from booking.models import Case

    Case.objects.filter(pk=world.case_a.pk).update(state="issues_captured")
    client = api(world.coordinator_a)
    url = f"/api/cases/{world.case_a.pk}/meetings/"
    body = {"mediator": world.mediator_a.pk, "mode": "online"}
    before = _snapshot()
    for start, end, field in [
        ("0001-01-01T00:00:00Z", "0001-01-01T03:00:00Z", "start"),
        ("9999-12-31T20:00:00Z", "9999-12-31T23:00:00Z", "start"),
        ("2029-06-04T09:00:00Z", "2029-06-04T12:00:00Z", "start"),  # in range, but more than 2 years ahead
    ]:
        response = client.post(url, {**body, "start": start, "end": end}, format="json")
        assert response.status_code == 400, response.content
        assert field in response.json()["extra"]["fields"]
    assert client.get("/api/reports/?month=9999-12").status_code in (400, 404)
    assert _snapshot() == before
