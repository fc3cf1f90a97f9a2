"""Commissioners' report: figures from a seeded month checked against numbers worked out by hand; who may see them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import include, path

from booking import certificates, feedback, outcomes, reports, services
from booking.models import Case, FeedbackRequest, Meeting
from booking.report_apis import page_urlpatterns
from config.urls import urlpatterns as site_urlpatterns
from core.models import Membership, Organisation
from notifications.models import Message
from scheduling.models import AvailabilityException, AvailabilityRule
from scheduling.occupancy import resource_for_mediator
from tests.booking import helpers
from tests.booking.test_outcomes import client, held_case

pytestmark = pytest.mark.django_db

# The pages are served outside /api/; this module doubles as a URLconf that adds them to the site's.
urlpatterns = [path("", include(page_urlpatterns)), *site_urlpatterns]

TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 15, tzinfo=UTC)
NOVEMBER = reports.Month(2026, 11)


def _meeting(case: Case, mediator: Any, day: date, *, cancelled_by: str) -> Meeting:
    start = datetime.combine(day, time(10), tzinfo=UTC)
    return Meeting.objects.create(
        case=case, uid=f"c-{case.pk}-{day}@test", start=start, end=start + timedelta(hours=3), mode="online",
        mediator=mediator, notice_given_on=day - timedelta(days=10), status="cancelled", cancelled_by=cancelled_by,
    )  # fmt: skip


def seed_month() -> dict[str, Any]:
    """November 2026 for one LA, worked out by hand:

    - A: LA told 2 Nov, held 26 Nov (due 2 Dec: within 30 days, 24 days), full agreement; certificate on time.
    - B: LA told 5 Oct, held 10 Nov (due 4 Nov: late, 36 days), no agreement; certificate due 13 Nov, issued late.
    - C: LA told 16 Nov, 30 days cannot be met (25 Nov); deemed certificate on time (due 30 Nov). Two meetings
      cancelled in November (by the LA, by the family) and one in December (not counted).
    - Mediator: Mondays 09:00-17:00, 16 November off: 4 Mondays x 8 h = 32 h; 6 h of meetings: 0.1875.
    - Requests: A and C (B's request was in October). Median days LA told to meeting: (24 + 36) / 2 = 30.
    """
    t = helpers.tenant(today=TODAY)
    mediator = helpers.mediator(t, name="Mo")
    resource = resource_for_mediator(mediator)
    AvailabilityRule.objects.create(resource=resource, weekday=0, start_time=time(9), end_time=time(17))
    AvailabilityException.objects.create(
        resource=resource, kind="off", first_day=date(2026, 11, 16), last_day=date(2026, 11, 16)
    )
    a = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2), mediator=mediator, child_name="Ada")
    b = held_case(t, held_on=date(2026, 11, 10), la_notified=date(2026, 10, 5), mediator=mediator, issues="x")
    c = helpers.case(t, la_notified=date(2026, 11, 16), state="scheduling")
    c = services.case_transition(
        case=c, actor=t["coordinator"], target="not_arranged_30_days", on=date(2026, 11, 25), today=TODAY
    )
    _meeting(c, mediator, date(2026, 11, 20), cancelled_by="la")
    _meeting(c, mediator, date(2026, 11, 18), cancelled_by="family")
    _meeting(c, mediator, date(2026, 12, 3), cancelled_by="la")
    outcomes.outcome_record(case=a, actor=t["coordinator"], result="full", now=NOW, today=TODAY)
    outcomes.outcome_record(case=b, actor=t["coordinator"], result="none", now=NOW, today=TODAY)
    for case in (a, b, c):
        certificates.certificate_issue(case=case, actor=t["coordinator"], now=NOW)
    # One certificate email per case (to the parent): sent, sent, failed. Five SMS.
    for status, message in zip(
        ["sent", "sent", "failed"], Message.objects.filter(kind="certificate").order_by("pk"), strict=True
    ):
        Message.objects.filter(pk=message.pk).update(status=status)
    for i, status in enumerate(["delivered", "delivered", "sent", "failed", "cancelled"]):
        Message.objects.create(
            kind="reminder", channel="sms", status=status, to="+447700900000", organisation=t["provider"], case=a,
            due_at=NOW, dedupe_key=f"seed-sms-{a.pk}-{i}",
        )  # fmt: skip
    asked = FeedbackRequest.objects.filter(case=a).get()
    feedback.feedback_answer(request=asked, score=4, comment="Helpful", now=NOW)
    return {"t": t, "a": a, "b": b, "c": c, "mediator": mediator}


EXPECTED = {
    "requests": 2,
    "mediations_held": 2,
    "held_within_30_days": 1,
    "held_within_30_days_share": 0.5,
    "certificates_issued": 3,
    "certificates_within_3_working_days": 2,
    "certificates_within_3_working_days_share": 0.6667,
    "certificates_by_kind": {"post_mediation": 2, "declined": 0, "not_arranged_30_days": 1, "withdrawn": 0},
    "deemed_certificates": 1,
    "cancellations": 2,
    "cancellations_by": {"family": 1, "la": 1, "icb": 0, "provider": 0, "mediator": 0},
    "outcomes": {"full": 1, "partial": 0, "none": 1, "withdrawn": 0, "did_not_attend": 0},
    "median_days_la_told_to_meeting": 30.0,
    "mediator_utilisation": {
        "mediators": [{"mediator": "Mo", "meetings": 2, "hours": 6.0, "available_hours": 32.0, "utilisation": 0.1875}],
        "hours": 6.0,
        "available_hours": 32.0,
        "utilisation": 0.1875,
    },
    "message_delivery": {
        # The three certificate emails, and the two feedback requests (one per held meeting) still pending.
        "email": {
            "total": 5,
            "by_status": {"pending": 2, "sending": 0, "sent": 2, "delivered": 0, "failed": 1, "suppressed": 0,
                          "cancelled": 0},
            "success_share": 0.6667,
            "delivered_share": None,
        },
        "sms": {
            "total": 5,
            "by_status": {"pending": 0, "sending": 0, "sent": 1, "delivered": 2, "failed": 1, "suppressed": 0,
                          "cancelled": 1},
            "success_share": 0.75,
            "delivered_share": 0.5,
        },
    },
    "feedback": {
        "asked": 2,
        "answered": 1,
        "response_share": 0.5,
        "mean_score": 4,
        "scores": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
    },
}  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_the_month_figures_match_the_hand_worked_numbers() -> None:
    s = seed_month()
    response = client(s["t"]["coordinator"]).get(f"/api/reports/?local_authority={s['t']['la'].pk}&month=2026-11")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["month"] == "2026-11" and body["local_authority"]["id"] == s["t"]["la"].pk
    assert body["figures"] == EXPECTED
    october = client(s["t"]["coordinator"]).get(f"/api/reports/?local_authority={s['t']['la'].pk}&month=2026-10")
    assert october.json()["figures"]["requests"] == 1  # B
    assert october.json()["figures"]["mediations_held"] == 0


@time_machine.travel(NOW, tick=False)
def test_the_csv_has_one_row_per_figure() -> None:
    s = seed_month()
    response = client(s["t"]["coordinator"]).get(
        f"/api/reports/export.csv?local_authority={s['t']['la'].pk}&month=2026-11"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "local_authority,month,figure,value"
    assert "LA,2026-11,requests,2" in lines
    assert "LA,2026-11,certificates_within_3_working_days_share,0.6667" in lines
    assert "LA,2026-11,feedback.mean_score,4" in lines
    assert "LA,2026-11,median_days_la_told_to_meeting,30.0" in lines


def _member(org: Organisation, role: str, name: str) -> Any:
    user = get_user_model().objects.create_user(name, password="pw")
    Membership.objects.create(user=user, organisation=org, role=role)
    return user


@time_machine.travel(NOW, tick=False)
def test_who_sees_which_figures() -> None:
    s = seed_month()
    t = s["t"]
    url = f"/api/reports/?local_authority={t['la'].pk}&month=2026-11"
    commissioner = _member(t["la"], "commissioner", "commissioner-a")
    body = client(commissioner).get(url).json()
    assert body["figures"] == EXPECTED
    assert "Ada" not in str(body) and "Sam Parent" not in str(body)  # aggregates only
    assert client(commissioner).get(f"/api/cases/{s['a'].pk}/").status_code == 404
    other = helpers.tenant(today=TODAY)
    assert client(other["coordinator"]).get(url).status_code == 404
    assert client(_member(other["la"], "commissioner", "commissioner-b")).get(url).status_code == 404
    assert client(None).get(url).status_code == 401
    # A second provider serving the same LA sees the figures of its own cases only.
    rival = Organisation.objects.create(kind="provider", name="Rival", code="rival")
    rival.served_authorities.add(t["la"])
    rival_coordinator = _member(rival, "coordinator", "rival-coordinator")
    assert client(rival_coordinator).get(url).json()["figures"]["requests"] == 0
    assert client(commissioner).get(url.replace("2026-11", "2026-13")).status_code == 400


@time_machine.travel(NOW, tick=False)
@pytest.mark.urls(__name__)
def test_the_report_page_draws_its_charts_on_the_server() -> None:
    s = seed_month()
    commissioner = _member(s["t"]["la"], "commissioner", "commissioner-page")
    from django.test import Client

    browser = Client()
    assert browser.get("/reports/").status_code == 302  # sign in first
    browser.force_login(commissioner)
    response = browser.get(f"/reports/?local_authority={s['t']['la'].pk}&month=2026-11")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "<script" not in html and "http" not in html.split("<body>")[1].replace('xmlns="http', "")
    assert "Mediation report: LA, 2026-11" in html
    assert "Ada" not in html
    other = helpers.tenant(today=TODAY)
    browser.force_login(other["coordinator"])
    assert browser.get(f"/reports/?local_authority={s['t']['la'].pk}&month=2026-11").status_code == 404


@time_machine.travel(NOW, tick=False)
@pytest.mark.urls(__name__)
def test_the_family_answers_the_feedback_form_once_by_its_link() -> None:
    t = helpers.tenant(today=TODAY)
    case = held_case(t, held_on=date(2026, 11, 26), la_notified=date(2026, 11, 2))
    outcomes.outcome_record(case=case, actor=t["coordinator"], result="full", now=NOW, today=TODAY)
    request = FeedbackRequest.objects.get(case=case)
    token = "known-token"
    FeedbackRequest.objects.filter(pk=request.pk).update(token_hash=feedback._hash(token))
    from django.test import Client

    family = Client()
    assert family.get(f"/feedback/{token}/").status_code == 200
    assert family.get("/feedback/wrong/").status_code == 404
    assert family.post(f"/feedback/{token}/", {"score": "9"}).status_code == 400
    assert family.post(f"/feedback/{token}/", {"score": "5", "comment": "Good"}).status_code == 200
    request.refresh_from_db()
    assert (request.score, request.comment) == (5, "Good")
    api = client(None).post(f"/api/feedback/{token}/", {"score": 3}, format="json")
    assert api.status_code == 409
