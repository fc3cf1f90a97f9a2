"""Every endpoint as its owner, as another tenant, as an anonymous caller, and as another case's family.

Another tenant's object is a 404 (its existence is not revealed); an anonymous caller gets 401. A route added to the
API without a row here fails `test_every_api_route_is_in_the_matrix`. A family's links open only their own kind of
route for their own case (see TOKEN_ROUTES); a route with a token added without a row fails
`test_every_token_route_is_in_the_family_matrix`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine

from tests.conftest import TODAY

pytestmark = pytest.mark.django_db


def _routes(w: Any) -> list[tuple[str, str, Any, int]]:
    """(method, url, payload, status for the owner)."""
    ca, pa, ma, va = w.case_a.pk, w.participant_a.pk, w.mediator_a.pk, w.venue_a.pk
    return [
        ("get", f"/api/organisations/{w.la_a.pk}/", None, 200),
        ("get", f"/api/cases/{ca}/", None, 200),
        ("patch", f"/api/cases/{ca}/", {"issues": "changed"}, 200),
        ("post", f"/api/cases/{ca}/transitions/", {"to": "issues_captured"}, 200),
        ("get", f"/api/cases/{ca}/history/", None, 200),
        ("get", f"/api/cases/{ca}/participants/", None, 200),
        ("post", f"/api/cases/{ca}/participants/", {"role": "observer", "name": "Olu"}, 201),
        ("get", f"/api/cases/{ca}/participants/{pa}/", None, 200),
        ("patch", f"/api/cases/{ca}/participants/{pa}/", {"language": "cy"}, 200),
        ("delete", f"/api/cases/{ca}/participants/{pa}/", None, 204),
        ("get", f"/api/mediators/{ma}/", None, 200),
        ("patch", f"/api/mediators/{ma}/", {"max_active_cases": 5}, 200),
        ("get", f"/api/venues/{va}/", None, 200),
        ("patch", f"/api/venues/{va}/", {"town": "Seabrook"}, 200),
        ("get", f"/api/cases/{ca}/slots/?limit=2", None, 200),
        ("get", f"/api/cases/{ca}/mediator-matches/", None, 200),
        ("post", f"/api/cases/{ca}/mediator/", {"mediator": ma}, 200),
        # The owner passes the access check and meets the state rule: no offers or bookings before the issues
        # are captured (409). The flows themselves are tested in tests/booking.
        ("post", f"/api/cases/{ca}/offers/", {}, 409),
        ("post", f"/api/cases/{ca}/meetings/", _meeting(w), 409),
        ("get", f"/api/meetings/{w.meeting_a.pk}/", None, 200),
        ("patch", f"/api/meetings/{w.meeting_a.pk}/", {"start": "2026-12-21T10:00Z", "end": "2026-12-21T13:00Z"}, 200),
        ("post", f"/api/meetings/{w.meeting_a.pk}/cancel/", {"cancelled_by": "la", "reason": "ill"}, 200),
        ("get", f"/api/meetings/{w.meeting_a.pk}/invite.ics", None, 200),
        ("get", f"/api/calendar-connections/{w.connection_a.pk}/", None, 200),
        ("post", f"/api/calendar-connections/{w.connection_a.pk}/sync/", None, 200),
        ("delete", f"/api/calendar-connections/{w.connection_a.pk}/", None, 204),
        ("post", f"/api/mediators/{ma}/calendar-feed/", None, 201),
        ("delete", f"/api/mediators/{ma}/calendar-feed/", None, 204),
        ("get", f"/api/mediators/{ma}/free-busy/?start=2026-12-01T00:00Z&end=2026-12-08T00:00Z", None, 200),
        (
            "post",
            "/api/availability/rules/",
            {"mediator": ma, "weekday": 2, "start_time": "09:00", "end_time": "12:00"},
            201,
        ),
        ("get", f"/api/availability/rules/{w.rule_a.pk}/", None, 200),
        ("patch", f"/api/availability/rules/{w.rule_a.pk}/", {"end_time": "16:00"}, 200),
        ("delete", f"/api/availability/rules/{w.rule_a.pk}/", None, 204),
        (
            "post",
            "/api/availability/exceptions/",
            {"mediator": ma, "kind": "off", "first_day": "2027-01-04", "last_day": "2027-01-04"},
            201,
        ),
        ("get", f"/api/availability/exceptions/{w.exception_a.pk}/", None, 200),
        ("patch", f"/api/availability/exceptions/{w.exception_a.pk}/", {"note": "holiday"}, 200),
        ("delete", f"/api/availability/exceptions/{w.exception_a.pk}/", None, 204),
        # After the meeting: an outcome with one action and a certificate exist on case A (see _after_meeting).
        ("get", f"/api/cases/{ca}/outcome/", None, 200),
        ("post", f"/api/cases/{ca}/outcome/", {"result": "full"}, 409),  # recorded already
        ("get", f"/api/cases/{ca}/actions/", None, 200),
        ("post", f"/api/cases/{ca}/actions/", {"owner": "la", "description": "Review", "appealable": False}, 201),
        ("patch", f"/api/actions/{_after_meeting(w)}/", {"done": True}, 200),
        ("post", f"/api/cases/{ca}/certificate/", None, 409),  # no certificate is due in this state
        ("get", f"/api/cases/{ca}/certificate.pdf", None, 200),
        ("get", f"/api/reports/?local_authority={w.la_a.pk}&month=2026-11", None, 200),
        ("get", f"/api/reports/export.csv?local_authority={w.la_a.pk}&month=2026-11", None, 200),
        ("get", f"/api/cases/{ca}/audit/", None, 200),
        ("get", "/api/people/export/?email=pa@example.org", None, 200),
        ("post", "/api/people/erase/", {"email": "pa@example.org"}, 409),  # the case is still open
    ]


def _after_meeting(w: Any) -> int:
    """An outcome, an agreed action and a certificate on case A, made once per test. Returns the action's id."""
    from datetime import UTC, date, datetime

    from booking.models import AgreedAction, Certificate, Outcome

    outcome = Outcome.objects.filter(case=w.case_a).first()
    if outcome is None:
        day = date(2026, 11, 20)
        outcome = Outcome.objects.create(
            case=w.case_a,
            result="full",
            mediation_date=day,
            agreement_date=day,
            recorded_at=datetime(2026, 11, 20, 15, tzinfo=UTC),
        )
        AgreedAction.objects.create(
            outcome=outcome,
            owner="la",
            description="Amend",
            appealable=False,
            due=date(2026, 12, 4),
            rule="agreement + 2 weeks",
            rule_version="test",
        )
        Certificate.objects.create(
            case=w.case_a,
            kind="post_mediation",
            issuer=w.provider_a,
            local_authority=w.la_a,
            trigger_date=day,
            due_on=date(2026, 11, 25),
            issued_on=date(2026, 11, 24),
            pdf=b"%PDF-1.4 test",
            sha256="0" * 64,
            token="tenancy-test",
        )
    return outcome.actions.order_by("pk").first().pk


def _meeting(w: Any) -> dict[str, Any]:
    return {"start": "2026-12-16T10:00Z", "end": "2026-12-16T13:00Z", "mediator": w.mediator_a.pk, "mode": "online"}


ROUTE_COUNT = 49
# Collection routes: the owner sees their rows, another tenant sees none of them.
LISTS = [
    "/api/organisations/",
    "/api/cases/",
    "/api/mediators/",
    "/api/venues/",
    "/api/availability/rules/",
    "/api/availability/exceptions/",
    "/api/calendar-connections/",
]
# Routes that are open by design, with why.
OPEN = {
    "/api/schema/": "the API description holds no tenant data",
    "/api/docs/": "the API description holds no tenant data",
    "/api/auth/token/": "the login itself",
    # The family's link is the credential: a wrong, tampered or other offer's token is a 404 (tests/booking).
    "/api/offers/{id}/": "authorised by the signed family link",
    "/api/offers/{id}/accept/": "authorised by the signed family link",
    "/api/calendar-connections/test/": "checks credentials the caller typed; holds no tenant data",
    "/api/inbound-email/": "authorised by the inbound-mail shared secret (tests/booking/test_replies.py)",
    "/api/certificates/{id}/certificate.pdf": "authorised by the signed family link (test_certificates.py)",
    "/api/feedback/{id}/": "authorised by the family's random link (tests/booking/test_reports.py)",
}


@pytest.fixture
def calendars(world: Any) -> Any:
    """The world with a connected calendar per tenant (port 9 refuses at once, so a sync attempt fails fast)."""
    from scheduling.caldav.crypto import secret_encrypt
    from scheduling.models import CalendarConnection

    def connect(mediator: Any) -> Any:
        return CalendarConnection.objects.create(
            resource=mediator.resource,
            server_url="http://127.0.0.1:9/",
            username="u",
            password_encrypted=secret_encrypt("pw"),
            calendar_url="http://127.0.0.1:9/u/cal/",
        )

    world.connection_a, world.connection_b = connect(world.mediator_a), connect(world.mediator_b)
    return world


def _call(client: Any, method: str, url: str, payload: Any) -> Any:
    return getattr(client, method)(url, payload, format="json") if payload is not None else getattr(client, method)(url)


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
@pytest.mark.parametrize("index", range(ROUTE_COUNT))
def test_owner_other_tenant_and_anonymous(calendars: Any, api: Any, index: int) -> None:
    world = calendars
    method, url, payload, owner_status = _routes(world)[index]
    assert _call(api(world.coordinator_b), method, url, payload).status_code == 404
    assert _call(api(None), method, url, payload).status_code == 401
    response = _call(api(world.coordinator_a), method, url, payload)
    assert response.status_code == owner_status, response.content


@pytest.mark.parametrize("url", LISTS)
def test_lists_show_only_the_tenants_rows(calendars: Any, api: Any, url: str) -> None:
    world = calendars
    mine = {row["id"] for row in api(world.coordinator_a).get(url).json()["results"]}
    theirs = {row["id"] for row in api(world.coordinator_b).get(url).json()["results"]}
    assert mine and theirs
    assert not mine & theirs
    assert api(None).get(url).status_code == 401


def test_case_visibility_by_role(world: Any, api: Any) -> None:
    url = f"/api/cases/{world.case_a.pk}/"
    assert api(world.la_officer_a).get(url).status_code == 200  # the case's LA
    assert api(world.health_a).get(url).status_code == 200  # health is involved and the ICB is on the case
    assert api(world.mediator_user_a).get(url).status_code == 200  # the assigned mediator
    assert api(world.commissioner_a).get(url).status_code == 404  # commissioners see aggregates only
    assert api(world.commissioner_a).get("/api/cases/").json()["count"] == 0


def test_readers_who_are_not_coordinators_cannot_change_a_case(world: Any, api: Any) -> None:
    url = f"/api/cases/{world.case_a.pk}/"
    for user in (world.health_a, world.mediator_user_a):
        assert api(user).patch(url, {"issues": "x"}, format="json").status_code == 403
        response = api(user).post(f"{url}transitions/", {"to": "withdrawn"}, format="json")
        assert response.status_code == 403
    world.case_a.refresh_from_db()
    assert world.case_a.issues == ""
    assert world.case_a.state == "mediation_requested"


def test_a_mediator_cannot_edit_their_own_profile_settings_reserved_to_coordinators(world: Any, api: Any) -> None:
    response = api(world.mediator_user_a).patch(
        f"/api/mediators/{world.mediator_a.pk}/", {"max_active_cases": 50}, format="json"
    )
    assert response.status_code == 403


def test_every_api_route_is_in_the_matrix(calendars: Any, api: Any) -> None:
    world = calendars
    assert len(_routes(world)) == ROUTE_COUNT
    schema = api(world.coordinator_a).get("/api/schema/?format=json").json()
    covered = set(LISTS) | set(OPEN)
    for _, url, _, _ in _routes(world):
        covered.add(url)
    templated = set()
    for url in covered:
        url = url.split("?", 1)[0]
        parts = ["{id}" if part.isdigit() else part for part in url.split("/")]
        templated.add("/".join(parts))
    missing = []
    for path in schema["paths"]:
        normalised = "/".join("{id}" if p.startswith("{") else p for p in path.split("/"))
        if normalised not in templated:
            missing.append(path)
    assert missing == [], f"Add these routes to the tenancy matrix: {missing}"


# --- Persona: another case's family -----------------------------------------------------------------------------
#
# A family holds valid links for their own case: the offer (the booking page and its API), the booked meeting's pages,
# attendees' answer links (signed, and the short SMS form), feedback and the certificate download. Case A is another
# case of the same provider. The links are scoped to one case and one purpose: each route takes its own kind of link
# only (any other kind is a 404), never reaches case A's objects, and none of them is a credential for staff routes.
# A route that takes a token and has no row here fails `test_every_token_route_is_in_the_family_matrix`.

TOKEN_ROUTES = [
    # (method, route, the kind of link it takes, status with that link)
    ("get", "/book/{token}/", "offer", 200),
    ("post", "/book/{token}/", "offer", 400),  # case A's slot: not one of this offer's times
    ("get", "/book/{token}/calendar.ics", "booked", 200),
    ("get", "/book/{token}/new-time/", "booked", 200),
    ("get", "/book/{token}/cancel/", "booked", 200),
    ("get", "/api/offers/{token}/", "offer", 200),
    ("post", "/api/offers/{token}/accept/", "offer", 400),  # case A's slot, likewise
    ("get", "/respond/{token}/", "answer", 200),
    ("get", "/respond/{token}/{answer}/", "answer", 200),
    ("post", "/respond/{token}/", "answer", 200),
    ("get", "/m/{token}/", "short", 302),  # to the signed answer page
    ("get", "/feedback/{token}/", "feedback", 200),
    ("get", "/api/feedback/{token}/", "feedback", 200),
    ("get", "/api/certificates/{token}/certificate.pdf", "certificate", 200),
    ("get", "/calendar/{token}.ics", "feed", 200),  # the mediator's private feed, not a family link
]
# Links of one purpose in two states: an open offer and an accepted one lead to the same pages.
SAME_PURPOSE = {"offer": {"booked"}, "booked": {"offer"}}


@dataclass
class FamilyLinks:
    tokens: dict[str, str]
    case: Any
    slot_a: Any  # a slot offered (and held) on case A
    markers: list[str]  # what only case A's pages would show


def _family_links(w: Any) -> FamilyLinks:
    """Case A gets an open offer; case A2 (same provider) gets a family with every kind of link."""
    import secrets
    from datetime import UTC, date, datetime, timedelta

    from booking import certificates, feedback, links, offers, services
    from booking.models import (
        CalendarFeed,
        Case,
        Certificate,
        FeedbackRequest,
        Meeting,
        MeetingAttendee,
        Offer,
        OfferSlot,
        Participant,
    )
    from scheduling.models import Occupancy

    def offer(case: Any, start: datetime, status: str) -> tuple[Any, str]:
        raw = secrets.token_urlsafe(24)
        o = Offer.objects.create(
            case=case, token_hash=offers._hash(raw), status=status, expires_at=datetime(2026, 12, 2, 10, tzinfo=UTC)
        )
        slot = OfferSlot.objects.create(
            offer=o, rank=1, start=start, end=start + timedelta(hours=3), mode="online", mediator=w.mediator_a
        )
        if status == "open":
            Occupancy.objects.create(
                resource=w.mediator_a.resource, start=slot.start, end=slot.end, kind="hold", offer_slot=slot,
                expires_at=o.expires_at,
            )  # fmt: skip
        return slot, offers.offer_token(o.pk, raw)

    slot_a, _ = offer(w.case_a, datetime(2026, 12, 15, 10, tzinfo=UTC), "open")
    case = services.case_create(
        actor=w.coordinator_a, provider=w.provider_a, local_authority=w.la_a, route=Case.Route.EDUCATION_SOCIAL_CARE,
        decision=Case.Decision.REFUSE_ASSESSMENT, decision_sent=date(2026, 11, 2), today=TODAY,
    )  # fmt: skip
    parent = Participant.objects.create(case=case, role="parent", name="Parent A2", email="pa2@example.org")
    _, open_token = offer(case, datetime(2026, 12, 22, 10, tzinfo=UTC), "open")
    booked_slot, booked_token = offer(case, datetime(2026, 12, 21, 10, tzinfo=UTC), "accepted")
    meeting = Meeting.objects.create(
        case=case, uid="mediation-a2@test", start=booked_slot.start, end=booked_slot.end, mode="online",
        mediator=w.mediator_a, notice_given_on=TODAY, offer_slot=booked_slot,
    )  # fmt: skip
    attendee = MeetingAttendee.objects.create(
        meeting=meeting, participant=parent, name=parent.name, email=parent.email, token=secrets.token_urlsafe(16)
    )
    feedback_token = secrets.token_urlsafe(24)
    FeedbackRequest.objects.create(
        case=case, meeting=meeting, participant=parent, token_hash=feedback._hash(feedback_token),
        expires_at=datetime(2026, 12, 27, tzinfo=UTC), created_at=datetime(2026, 11, 27, tzinfo=UTC),
    )  # fmt: skip
    certificate = Certificate.objects.create(
        case=case, kind="post_mediation", issuer=w.provider_a, local_authority=w.la_a, trigger_date=TODAY,
        due_on=TODAY, issued_on=TODAY, pdf=b"%PDF-1.4 case A2", sha256="1" * 64, token="family-a2",
    )  # fmt: skip
    feed = CalendarFeed.objects.create(mediator=w.mediator_a, token=secrets.token_urlsafe(32))
    tokens = {
        "offer": open_token,
        "booked": booked_token,
        "answer": links.answer_token(attendee),
        "short": attendee.token,
        "feedback": feedback_token,
        "certificate": certificates.family_link_token(certificate),
        "feed": feed.token,
    }
    markers = [
        w.case_a.reference, w.meeting_a.uid, "Parent A<", "pa@example.org", "14 December", "15 December",
        "2026-12-14", "2026-12-15", "20261214", "20261215", "tenancy-test",
    ]  # fmt: skip
    return FamilyLinks(tokens=tokens, case=case, slot_a=slot_a, markers=markers)


@pytest.fixture
def family(calendars: Any) -> Any:
    from django.core.cache import cache

    cache.clear()  # the family routes' throttle counts requests per address, and the clock is frozen here
    yield _family_links(calendars)
    cache.clear()


def _family_call(client: Any, method: str, route: str, token: str, slot_a: Any) -> Any:
    url = route.format(token=token, answer="accept")
    if method == "get":
        return client.get(url)
    if route.startswith("/api/"):
        return client.post(url, {"slot": slot_a.pk}, format="json")
    return client.post(url, {"slot": slot_a.pk, "answer": "accept"})


def _case_a_state(w: Any) -> tuple[Any, ...]:
    from booking.models import Case, CaseEvent, Meeting, MeetingAttendee, Offer
    from scheduling.models import Occupancy

    return (
        tuple(Meeting.objects.filter(case=w.case_a).values_list("pk", "status", "sequence", "start")),
        tuple(Offer.objects.filter(case=w.case_a).values_list("pk", "status")),
        tuple(Occupancy.objects.filter(active=True).values_list("pk", "kind")),
        tuple(MeetingAttendee.objects.filter(meeting__case=w.case_a).values_list("pk", "partstat")),
        CaseEvent.objects.filter(case=w.case_a).count(),
        Case.objects.filter(pk=w.case_a.pk).values_list("state", "issues", "updated_at").get(),
    )


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
@pytest.mark.parametrize(
    ("method", "route", "kind", "status"), TOKEN_ROUTES, ids=[f"{m} {r}" for m, r, _, _ in TOKEN_ROUTES]
)
def test_a_family_link_opens_only_its_own_route_and_never_case_a(
    family: FamilyLinks, calendars: Any, method: str, route: str, kind: str, status: int
) -> None:
    from django.test import Client
    from rest_framework.test import APIClient

    before = _case_a_state(calendars)
    for name, token in family.tokens.items():
        client = APIClient() if route.startswith("/api/") else Client()
        response = _family_call(client, method, route, token, family.slot_a)
        if name == kind:
            assert response.status_code == status, (name, response.content[:300])
        elif name not in SAME_PURPOSE.get(kind, ()):  # the same link in another state: tests/web/test_family_pages.py
            assert response.status_code == 404, (name, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if name != "feed":  # the mediator's own feed lists their meetings on every case, by design
            for marker in family.markers:
                assert marker.encode() not in body, (name, marker)
    assert _case_a_state(calendars) == before


@time_machine.travel("2026-11-27T10:00:00Z", tick=False)
def test_a_family_link_is_no_credential_for_staff_routes(family: FamilyLinks, calendars: Any) -> None:
    from django.test import Client
    from rest_framework.test import APIClient

    world = calendars
    routes = _routes(world)
    before = _case_a_state(world)
    # A browser that has just used every family link: it holds cookies, and must hold no staff session.
    browser = Client()
    for method, route, kind, _ in TOKEN_ROUTES:
        _family_call(browser, method, route, family.tokens[kind], family.slot_a)
    for token in family.tokens.values():
        for scheme in ("Token", "Bearer"):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
            for method, url, payload, _ in routes:
                response = _call(client, method, url, payload)
                assert response.status_code == 401, (scheme, url, response.status_code)
    for method, url, payload, _ in routes:
        assert _call(browser, method, url, payload).status_code == 401, url
    for page in ("/dashboard/", f"/cases/{world.case_a.pk}/", "/mediator/", "/staff/", "/reports/"):
        response = browser.get(page)
        assert response.status_code == 302 and response["Location"].startswith(("/sign-in/", "/admin/login/")), page
    inbound = APIClient()
    inbound.credentials(HTTP_AUTHORIZATION=f"Bearer {family.tokens['answer']}")
    assert inbound.post("/api/inbound-email/", "x", content_type="message/rfc822").status_code in (401, 403)
    assert _case_a_state(world) == before


def test_every_token_route_is_in_the_family_matrix() -> None:
    """Every address with a token in its path (pages and API alike) has a row in TOKEN_ROUTES."""
    import re

    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                yield "/" + route

    with_token = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r) for r in walk(get_resolver().url_patterns, "")}
    with_token = {r for r in with_token if "{token}" in r}
    assert with_token == {route for _, route, _, _ in TOKEN_ROUTES}
    linked = {p for p, why in OPEN.items() if "link" in why}
    assert {p.replace("{id}", "{token}") for p in linked} <= with_token


def test_a_mediators_contact_details_are_for_them_and_their_provider_and_commissioners_see_no_mediators(
    world: Any, api: Any
) -> None:
    url = f"/api/mediators/{world.mediator_a.pk}/"
    provider_view = api(world.coordinator_a).get(url).json()
    assert provider_view["email"] == world.mediator_a.email != ""
    la_view = api(world.la_officer_a).get(url)
    assert la_view.status_code == 200 and (la_view.json()["email"], la_view.json()["mobile"]) == ("", "")
    assert all(m["email"] == "" for m in api(world.la_officer_a).get("/api/mediators/").json()["results"])
    assert api(world.commissioner_a).get("/api/mediators/").json()["results"] == []
    assert api(world.commissioner_a).get(url).status_code == 404
    assert api(world.commissioner_a).get("/api/venues/").json()["results"] == []
