"""The database connection dropped during a request: a clean 503, nothing half-written, and the next request works.

PostgreSQL only (SQLite has no server to drop). The connection is really dropped: another connection runs
pg_terminate_backend() on the backend serving the request, right before a chosen query, through Django's
execute_wrapper hook, so the query fails as it would when the server restarts or a failover cuts it. Requests go
through Django's test client with the connection handling of a WSGI server (close_old_connections when a request
starts and ends), which the test client otherwise switches off; connections are kept between requests as in
production (CONN_MAX_AGE), with the health checks the settings give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from django.db import close_old_connections, connection
from django.test.client import ClientHandler
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from booking.models import Case, CaseEvent, Meeting, Offer, Participant
from notifications.models import Message
from scheduling.models import Occupancy
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
UNAVAILABLE = {"message": "The service is briefly unavailable; try again.", "extra": {}}


class ServerHandler(ClientHandler):
    """The test client's handler with a WSGI server's connection handling: request_started and request_finished run
    close_old_connections, which closes a broken or expired connection between requests."""

    def __call__(self, environ: dict[str, Any]) -> Any:
        close_old_connections()
        try:
            return super().__call__(environ)
        finally:
            close_old_connections()


@pytest.fixture
def kept_connections() -> Iterator[None]:
    """Connections kept between requests, as production keeps them (production.py: 60 s)."""
    before = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.settings_dict["CONN_MAX_AGE"] = before
    connection.close()


def client(token: str | None = None) -> APIClient:
    c = APIClient()
    c.handler = ServerHandler(enforce_csrf_checks=False)
    if token:
        c.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return c


def backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)


def terminate(pid: int) -> None:
    """From another connection: end the server process `pid` and wait until it is gone."""
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone()[0] is True
    finally:
        other.close()


@contextmanager
def drop_connection_at(fragment: str) -> Iterator[list[str]]:
    """Drop this thread's connection right before the first query whose SQL contains `fragment`. Yields the SQL run
    on it until then (the last item is the query that met the dropped connection)."""
    ran: list[str] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if fragment in sql and not any(fragment in earlier for earlier in ran):
            terminate(context["connection"].connection.info.backend_pid)
        ran.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield ran
    assert any(fragment in sql for sql in ran), f"no query with {fragment!r} ran"


def written(case: Case) -> dict[str, Any]:
    """What a booking writes, to compare before and after a failed one."""
    case.refresh_from_db()
    return {
        "state": case.state,
        "meetings": Meeting.objects.filter(case=case).count(),
        "offers": sorted(Offer.objects.filter(case=case).values_list("status", flat=True)),
        "occupancy": sorted(Occupancy.objects.filter(active=True).values_list("kind", "offer_slot_id", "meeting_id")),
        "events": CaseEvent.objects.filter(case=case).count(),
        "messages": Message.objects.filter(case=case).count(),
        "participants": sorted(Participant.objects.filter(case=case).values_list("role", "interpreter_language")),
    }


def test_an_api_request_whose_connection_drops_is_a_503_in_our_shape_and_the_next_request_works(
    world: Any, kept_connections: None
) -> None:
    staff = client(Token.objects.create(user=world.coordinator_a).key)
    url = f"/api/cases/{world.case_a.pk}/"
    assert staff.get(url).status_code == 200
    first = backend_pid()

    with drop_connection_at('FROM "booking_case"') as ran:
        response = staff.get(url)

    assert '"authtoken_token"' in ran[0]  # the request was under way: the caller was already authenticated
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE and response["Retry-After"] == "5"
    again = staff.get(url)
    assert again.status_code == 200 and again.json()["id"] == world.case_a.pk
    assert backend_pid() != first


def test_an_idle_connection_the_server_dropped_is_replaced_before_the_next_request(
    world: Any, kept_connections: None
) -> None:
    """A database restart or failover between two requests: the kept connection is dead. The health check at the
    start of the next request notices and reconnects, so no request fails (CONN_HEALTH_CHECKS in base.py)."""
    staff = client(Token.objects.create(user=world.coordinator_a).key)
    url = f"/api/cases/{world.case_a.pk}/"
    assert staff.get(url).status_code == 200
    first = backend_pid()

    terminate(first)

    assert staff.get(url).status_code == 200
    assert backend_pid() != first


@time_machine.travel(NOW, tick=False)
def test_a_connection_dropped_while_the_family_accepts_an_offer_writes_nothing_and_their_retry_books(
    kept_connections: None,
) -> None:
    _, case, offer, token = offered_case(today=TODAY, now=NOW)
    slot = offer.slots.order_by("rank").first()
    before = written(case)
    family = client()

    # The meeting row is written and the holds turned into it; then, at the offer's update, the connection goes.
    with drop_connection_at('UPDATE "booking_offer"') as ran:
        response = family.post(f"/api/offers/{token}/accept/", {"slot": slot.pk}, format="json")

    assert any('INSERT INTO "booking_meeting"' in sql for sql in ran)
    assert response.status_code == 503 and response.json() == UNAVAILABLE
    assert written(case) == before
    retry = family.post(f"/api/offers/{token}/accept/", {"slot": slot.pk}, format="json")
    assert retry.status_code == 200, retry.content
    after = written(case)
    assert (after["state"], after["meetings"], after["offers"]) == ("scheduled", 1, ["accepted"])


@time_machine.travel(NOW, tick=False)
def test_a_page_whose_connection_drops_is_a_plain_503_page_writes_nothing_and_the_retry_books(
    kept_connections: None,
) -> None:
    _, case, offer, token = offered_case(today=TODAY, now=NOW)
    slot = offer.slots.order_by("rank").first()
    choice = {"slot": slot.pk, "interpreter_language": "Polish"}
    before = written(case)
    family = client()

    with drop_connection_at('INSERT INTO "booking_caseevent"') as ran:
        response = family.post(f"/book/{token}/", choice)

    assert any('INSERT INTO "booking_meeting"' in sql for sql in ran)
    assert response.status_code == 503 and response["Retry-After"] == "5"
    body = response.content.decode()
    assert "Sorry, the service is unavailable" in body and "Try again" in body
    assert "Traceback" not in body and "OperationalError" not in body and "terminating" not in body
    assert written(case) == before
    assert family.get(f"/book/{token}/").status_code == 200
    retry = family.post(f"/book/{token}/", choice)
    assert retry.status_code == 302 and retry["Location"].endswith("?done=booked")
    assert written(case)["meetings"] == 1
    assert case.participants.get(role="parent").interpreter_language == "Polish"


def test_a_signed_in_page_whose_connection_drops_is_a_503_page_and_the_next_page_works(
    world: Any, kept_connections: None
) -> None:
    staff = client()
    staff.force_login(world.coordinator_a)
    assert staff.get("/dashboard/").status_code == 200

    with drop_connection_at('FROM "booking_case"') as ran:
        response = staff.get("/dashboard/")

    assert any('FROM "django_session"' in sql for sql in ran)  # signed in, then the connection went
    assert response.status_code == 503
    assert "Sorry, the service is unavailable" in response.content.decode()
    again = staff.get("/dashboard/")
    assert again.status_code == 200 and world.case_a.reference in again.content.decode()
