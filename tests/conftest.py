from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from rest_framework.test import APIClient

# Local servers (SMTP, the Twilio endpoint, Radicale) as fixtures for any test that names them.
pytest_plugins = ["tests.servers.smtp", "tests.servers.twilio_fake", "tests.servers.radicale"]

USING_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` or `production` belong to the PostgreSQL pass, `browser` tests to the SQLite pass:
    each is deselected (never skipped) in the other pass, so CI runs every test at least once."""
    other_pass = ("browser",) if USING_POSTGRES else ("postgres", "production")
    keep, drop = [], []
    for item in items:
        (drop if any(item.get_closest_marker(m) for m in other_pass) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(autouse=True)
def _fresh_sms_rate_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SMS sender's rate limiter is one per process and counts real seconds: each test starts with a full
    allowance, so what an earlier test sent cannot defer this one's messages."""
    monkeypatch.setattr("notifications.sending._limiter", None)


TODAY = date(2026, 11, 27)


@dataclass
class World:
    """Two tenants. A: provider A serving LA A (with ICB A). B: provider B serving LA B."""

    provider_a: Any
    la_a: Any
    icb_a: Any
    provider_b: Any
    la_b: Any
    coordinator_a: Any
    la_officer_a: Any
    health_a: Any
    mediator_user_a: Any
    commissioner_a: Any
    coordinator_b: Any
    mediator_a: Any
    mediator_b: Any
    venue_a: Any
    venue_b: Any
    case_a: Any
    case_b: Any
    participant_a: Any
    participant_b: Any
    rule_a: Any
    rule_b: Any
    exception_a: Any
    exception_b: Any
    meeting_a: Any
    connection_a: Any = None
    connection_b: Any = None


def _user(username: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password="pw-" + username, first_name=username)


def _member(user: Any, organisation: Any, role: str) -> Any:
    from core.models import Membership

    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


@pytest.fixture
def world(db: Any) -> World:
    from booking import services
    from booking.models import Case, Participant
    from core.models import Membership, Organisation
    from scheduling.models import Mediator, Room, Venue

    K, R = Organisation.Kind, Membership.Role
    provider_a = Organisation.objects.create(kind=K.PROVIDER, name="Provider A", code="provider-a")
    la_a = Organisation.objects.create(kind=K.LOCAL_AUTHORITY, name="LA A", code="la-a")
    icb_a = Organisation.objects.create(kind=K.ICB, name="ICB A", code="icb-a")
    provider_b = Organisation.objects.create(kind=K.PROVIDER, name="Provider B", code="provider-b")
    la_b = Organisation.objects.create(kind=K.LOCAL_AUTHORITY, name="LA B", code="la-b")
    provider_a.served_authorities.add(la_a)
    provider_b.served_authorities.add(la_b)
    la_a.partner_icbs.add(icb_a)

    coordinator_a = _member(_user("alice"), provider_a, R.COORDINATOR)
    la_officer_a = _member(_user("lena"), la_a, R.COORDINATOR)
    health_a = _member(_user("hugo"), icb_a, R.HEALTH_REPRESENTATIVE)
    mediator_user_a = _member(_user("mia"), provider_a, R.MEDIATOR)
    commissioner_a = _member(_user("cora"), la_a, R.COMMISSIONER)
    coordinator_b = _member(_user("charlie"), provider_b, R.COORDINATOR)

    mediator_a = Mediator.objects.create(
        provider=provider_a, user=mediator_user_a, name="Mia Mediator", email="mia@a.example.org",
        accreditation_expires=date(2028, 1, 1), specialisms=["health"],
    )  # fmt: skip
    mediator_b = Mediator.objects.create(
        provider=provider_b,
        name="Max Mediator",
        email="max@b.example.org",
        accreditation_expires=date(2028, 1, 1),
    )
    venue_a = Venue.objects.create(owner=provider_a, name="Venue A", address="1 A Street", features=["step_free"])
    Room.objects.create(venue=venue_a, name="Room 1")
    venue_b = Venue.objects.create(owner=provider_b, name="Venue B", address="1 B Street")

    case_a = services.case_create(
        actor=coordinator_a, provider=provider_a, local_authority=la_a, icbs=[icb_a], route=Case.Route.JOINT_HEALTH,
        decision=Case.Decision.PLAN_CONTENTS, health_involved=True, decision_sent=date(2026, 11, 2),
        state="mediation_requested", la_notified=date(2026, 11, 16), today=TODAY,
    )  # fmt: skip
    case_a.mediator = mediator_a
    case_a.save(update_fields=["mediator"])
    case_b = services.case_create(
        actor=coordinator_b, provider=provider_b, local_authority=la_b, route=Case.Route.EDUCATION_SOCIAL_CARE,
        decision=Case.Decision.REFUSE_ASSESSMENT, decision_sent=date(2026, 11, 2), today=TODAY,
    )  # fmt: skip
    participant_a = Participant.objects.create(case=case_a, role="parent", name="Parent A", email="pa@example.org")
    participant_b = Participant.objects.create(case=case_b, role="parent", name="Parent B", email="pb@example.org")

    from datetime import UTC, datetime, time

    from booking.models import Meeting
    from scheduling.models import AvailabilityException, AvailabilityRule, Occupancy
    from scheduling.occupancy import resource_for_mediator

    resource_a, resource_b = resource_for_mediator(mediator_a), resource_for_mediator(mediator_b)
    rule_a = AvailabilityRule.objects.create(resource=resource_a, weekday=0, start_time=time(9), end_time=time(17))
    rule_b = AvailabilityRule.objects.create(resource=resource_b, weekday=1, start_time=time(9), end_time=time(17))
    exception_a = AvailabilityException.objects.create(
        resource=resource_a, kind="off", first_day=date(2026, 12, 24), last_day=date(2026, 12, 31)
    )
    exception_b = AvailabilityException.objects.create(
        resource=resource_b, kind="off", first_day=date(2026, 12, 24), last_day=date(2026, 12, 31)
    )
    start = datetime(2026, 12, 14, 10, tzinfo=UTC)
    meeting_a = Meeting.objects.create(
        case=case_a, uid="mediation-a@test", start=start, end=start.replace(hour=13), mode="online",
        mediator=mediator_a, notice_given_on=TODAY,
    )  # fmt: skip
    Occupancy.objects.create(
        resource=resource_a, start=start.replace(hour=9, minute=45), end=start.replace(hour=13, minute=15),
        kind="meeting", meeting=meeting_a,
    )  # fmt: skip
    return World(**{k: v for k, v in locals().items() if k in World.__dataclass_fields__})


@pytest.fixture
def api() -> Any:
    def client_for(user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user=user)
        return client

    return client_for
