"""Builders for scheduling tests: a schedulable case with the people a meeting needs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.db import connection, transaction

from booking import services
from booking.models import Case, Participant
from core.models import Membership, Organisation
from scheduling.models import Mediator, Room, Venue

_counter = {"n": 0}


def _code(prefix: str) -> str:
    _counter["n"] += 1
    return f"{prefix}-{_counter['n']}"


def tenant(*, today: date) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    provider = Organisation.objects.create(kind="provider", name="Provider", code=_code("p"))
    la = Organisation.objects.create(kind="local_authority", name="LA", code=_code("la"))
    provider.served_authorities.add(la)
    coordinator = User.objects.create_user(_code("coord"), password="pw")
    Membership.objects.create(user=coordinator, organisation=provider, role="coordinator")
    officer = User.objects.create_user(_code("officer"), password="pw", first_name="Olive", last_name="Officer")
    Membership.objects.create(user=officer, organisation=la, role="coordinator")
    venue = Venue.objects.create(owner=provider, name="Hall", address="1 Street", features=["step_free"])
    room = Room.objects.create(venue=venue, name="Room 1")
    return {
        "provider": provider,
        "la": la,
        "coordinator": coordinator,
        "officer": officer,
        "venue": venue,
        "room": room,
        "today": today,
    }


def mediator(t: dict[str, Any], name: str = "Mia", **fields: Any) -> Mediator:
    defaults = {
        "email": f"{name.lower()}@example.org",
        "accreditation_expires": date(2030, 1, 1),
        "buffer_before_minutes": 15,
        "buffer_after_minutes": 15,
    }
    m = Mediator.objects.create(provider=t["provider"], name=name, **{**defaults, **fields})
    m.areas.add(t["la"])
    return m


def case(
    t: dict[str, Any], *, la_notified: date, state: str = "issues_captured", officer: bool = True, **fields: Any
) -> Case:
    c = services.case_create(
        actor=t["coordinator"],
        provider=t["provider"],
        local_authority=t["la"],
        route="education_social_care",
        decision="plan_contents",
        state="mediation_requested",
        la_notified=la_notified,
        today=t["today"],
        **fields,
    )
    if state != "mediation_requested":
        c = services.case_transition(case=c, actor=t["coordinator"], target="issues_captured", today=t["today"])
    if state == "scheduling":
        c = services.case_transition(case=c, actor=t["coordinator"], target="scheduling", today=t["today"])
    Participant.objects.create(case=c, role="parent", name="Sam Parent", email="sam@example.org")
    if officer:
        Participant.objects.create(
            case=c,
            role="la_officer",
            name="Olive Officer",
            user=t["officer"],
            organisation=t["la"],
            decision_authority=True,
        )
    return c


@contextmanager
def held_by_another_transaction(take: Callable[[], None]) -> Iterator[None]:
    """Run `take` (which takes locks) in a transaction on another connection, and keep that transaction open, its
    locks held, until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                take()
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30), "the other transaction never took its locks"
        yield
    finally:
        release.set()
        holder.join(30)
