"""Retention: closed cases anonymised after their period, twice gives the same result, reports unchanged;
one person's export and erasure."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.apps import apps

from booking import reports, retention, services
from booking.models import AuditEvent, Case, CaseAnonymisation, Participant, RetentionPolicy
from notifications.models import Message
from tests.booking.test_outcomes import client
from tests.booking.test_reports import EXPECTED, NOW, TODAY, seed_month

pytestmark = pytest.mark.django_db


def _digest() -> str:
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model._meta.app_label in {"booking", "notifications"} and model is not AuditEvent:
            rows = list(model.objects.order_by("pk").values())
            digest.update(json.dumps(rows, default=str, sort_keys=True).encode())
    return digest.hexdigest()


def _close_all(s: dict[str, Any]) -> None:
    for case in (s["a"], s["b"], s["c"]):
        services.case_transition(case=case, actor=s["t"]["coordinator"], target="closed", today=TODAY)


def _report(s: dict[str, Any]) -> dict[str, Any]:
    return reports.report_get(
        user=s["t"]["coordinator"], local_authority_id=s["t"]["la"].pk, month=reports.Month(2026, 11)
    )


def test_retention_anonymises_expired_closed_cases_once_and_leaves_the_figures_alone() -> None:
    with time_machine.travel(NOW, tick=False):
        s = seed_month()
        _close_all(s)
        open_case = services.case_create(
            actor=s["t"]["coordinator"], provider=s["t"]["provider"], local_authority=s["t"]["la"],
            route="education_social_care", decision="no_plan", child_name="Still Open", today=TODAY,
        )  # fmt: skip
    before = _report(s)
    assert before["figures"] == EXPECTED
    # Six years after closing: not yet; the day the period ends: anonymised.
    assert retention.retention_apply(now=datetime(2032, 11, 26, 12, tzinfo=UTC)) == 0
    assert retention.retention_apply(now=datetime(2032, 11, 27, 12, tzinfo=UTC)) == 3
    first = _digest()
    assert retention.retention_apply(now=datetime(2032, 11, 28, 12, tzinfo=UTC)) == 0
    assert _digest() == first
    assert _report(s) == before
    a = Case.objects.get(pk=s["a"].pk)
    assert (a.child_name, a.issues, a.child_date_of_birth) == ("", "", None)
    assert set(Participant.objects.filter(case=a).values_list("name", flat=True)) == {"Anonymised"}
    assert not Participant.objects.filter(case__in=[s["a"], s["b"], s["c"]]).exclude(email="").exists()
    assert not Message.objects.filter(case=a).exclude(to="").exists()
    assert CaseAnonymisation.objects.count() == 3
    assert Case.objects.get(pk=open_case.pk).child_name == "Still Open"
    assert AuditEvent.objects.filter(
        case_id_ref=a.pk, action="change", object_type="case", actor_kind="system"
    ).exists()


def test_an_organisations_own_retention_period_applies() -> None:
    with time_machine.travel(NOW, tick=False):
        s = seed_month()
        _close_all(s)
    RetentionPolicy.objects.create(organisation=s["t"]["la"], years_after_closure=2)
    assert retention.retention_apply(now=datetime(2028, 11, 27, 12, tzinfo=UTC)) == 3


@time_machine.travel(NOW, tick=False)
def test_export_gives_everything_held_about_one_person() -> None:
    s = seed_month()
    coordinator = s["t"]["coordinator"]
    response = client(coordinator).get("/api/people/export/?email=SAM@example.org")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {c["reference"] for c in body["cases"]} == {s["a"].reference, s["b"].reference, s["c"].reference}
    a = next(c for c in body["cases"] if c["reference"] == s["a"].reference)
    assert a["participant"]["name"] == "Sam Parent" and a["case"]["child_name"] == "Ada"
    assert {m["kind"] for m in body["messages"]} == {"certificate", "feedback"}
    assert body["feedback"][0]["comment"] == "Helpful" or body["feedback"][1]["comment"] == "Helpful"
    assert client(coordinator).get("/api/people/export/?email=nobody@example.org").status_code == 404
    assert client(coordinator).get("/api/people/export/?email=not-an-address").status_code == 400


@time_machine.travel(NOW, tick=False)
def test_erasure_only_when_every_case_of_the_person_is_closed() -> None:
    s = seed_month()
    coordinator = s["t"]["coordinator"]
    response = client(coordinator).post("/api/people/erase/", {"email": "sam@example.org"}, format="json")
    assert response.status_code == 409
    assert {c["reference"] for c in response.json()["extra"]["open_cases"]} == {
        s["a"].reference, s["b"].reference, s["c"].reference
    }  # fmt: skip
    assert Participant.objects.filter(email="sam@example.org").count() == 3
    _close_all(s)
    response = client(coordinator).post("/api/people/erase/", {"email": "sam@example.org"}, format="json")
    assert response.status_code == 200 and response.json() == {"erased": 3}
    assert not Participant.objects.filter(email="sam@example.org").exists()
    assert not Message.objects.filter(to="sam@example.org").exists()
    assert _report(s)["figures"] == EXPECTED
