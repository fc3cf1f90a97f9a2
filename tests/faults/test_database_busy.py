"""The database too busy to serve a request in time (another writer holds the lock past the timeout): a 503 that says
to try again, nothing written, and the retry books. Runs on both databases, each with its own real lock:

- SQLite: another connection holds the write lock (BEGIN IMMEDIATE), as the embedded dispatcher does while it writes;
  the request waits for the connection's busy timeout, then SQLite says "database is locked".
- PostgreSQL: another transaction holds the offer's row lock; the request's SELECT … FOR UPDATE waits for lock_timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
    connection,
)
from django.test import Client
from rest_framework.test import APIClient

from booking.models import Meeting, Offer
from core.errors import database_unavailable
from tests.faults.test_database_faults import UNAVAILABLE, written
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case


@pytest.fixture
def short_lock_wait() -> Iterator[None]:
    """The request's connection gives up waiting for a lock after 0.2 s (SQLite's busy timeout is 20 s otherwise)."""
    before = connection.settings_dict["OPTIONS"]
    options = dict(before)
    if connection.vendor == "sqlite":
        options["timeout"] = 0.2
    else:
        options["options"] = "-c lock_timeout=200"
    connection.close()
    connection.settings_dict["OPTIONS"] = options
    yield
    connection.close()
    connection.settings_dict["OPTIONS"] = before


@contextmanager
def another_connection_holding(postgres_sql: str, params: Sequence[Any] = ()) -> Iterator[None]:
    """Another connection holding a lock until the block ends: SQLite's one write lock, or on PostgreSQL what
    `postgres_sql` takes (in a transaction). Reads go on."""
    if connection.vendor == "sqlite":
        other: Any = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    else:
        other = connection.get_new_connection(connection.get_connection_params())
        other.execute(postgres_sql, params)
    try:
        yield
    finally:
        other.rollback()
        other.close()


def another_writer(offer: Offer) -> Any:
    """Another connection holding the lock the booking needs, until the block ends."""
    return another_connection_holding("SELECT id FROM booking_offer WHERE id = %s FOR UPDATE", [offer.pk])


@pytest.mark.django_db(transaction=True)
@time_machine.travel(NOW, tick=False)
def test_a_booking_that_cannot_get_its_lock_in_time_is_a_503_and_the_retry_books(
    short_lock_wait: None, caplog: Any
) -> None:
    _, case, offer, token = offered_case(today=TODAY, now=NOW)
    slot = offer.slots.order_by("rank").first()
    before = written(case)

    with another_writer(offer):
        page = Client().post(f"/book/{token}/", {"slot": slot.pk})
        api = APIClient().post(f"/api/offers/{token}/accept/", {"slot": slot.pk}, format="json")

    assert page.status_code == 503 and "Sorry, the service is unavailable" in page.content.decode()
    assert api.status_code == 503 and api.json() == UNAVAILABLE
    # The page's failure is logged by its route, never with the family's token (it would let a log reader book).
    logged = [r.getMessage() for r in caplog.records if r.name == "core.middleware"]
    assert logged == ["Database unavailable: POST /book/<token>/"]
    assert written(case) == before
    retry = Client().post(f"/book/{token}/", {"slot": slot.pk})
    assert retry.status_code == 302 and retry["Location"].endswith("?done=booked")
    assert Meeting.objects.filter(case=case).count() == 1


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        # Briefly unavailable: a retry may well succeed (503 with Retry-After).
        (OperationalError("terminating connection due to administrator command"), True),
        (OperationalError("database is locked"), True),
        (OperationalError("canceling statement due to lock timeout"), True),
        (OperationalError("deadlock detected"), True),
        (InterfaceError("the cursor is closed"), True),  # not a DatabaseError in Django's hierarchy
        # Not unavailable: the same request would fail the same way again.
        (DataError("value too long for type character varying(64)"), False),  # bad input: 400 in the API
        (IntegrityError("duplicate key"), False),  # a conflict with the data: 409 in the API
        (ProgrammingError('relation "booking_case" does not exist'), False),  # a bug: 500
        (InternalError("current transaction is aborted"), False),
        (DatabaseError("anything else the database said"), False),
        (ValueError("not the database"), False),
    ],
)
def test_which_errors_mean_the_database_is_unavailable(error: Exception, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable


def _failing(monkeypatch: Any, target: str, error: Exception) -> None:
    def fail(*_: Any, **__: Any) -> None:
        raise error

    monkeypatch.setattr(target, fail)


@pytest.fixture
def staff(django_user_model: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_user("staff-1", password="pw-staff-1"))
    return client


@pytest.mark.django_db
def test_a_value_the_database_refuses_is_a_400_in_the_api_shape(staff: Client, monkeypatch: Any) -> None:
    _failing(monkeypatch, "core.apis.organisation_list", DataError("value too long for type character varying(64)"))
    answer = staff.get("/api/organisations/")
    assert answer.status_code == 400 and "Retry-After" not in answer.headers
    assert answer.json() == {"message": "The request has a value that cannot be stored.", "extra": {"fields": {}}}


@pytest.mark.django_db
@pytest.mark.parametrize("error", [ProgrammingError('relation "x" does not exist'), DatabaseError("other")])
def test_a_database_error_that_a_retry_would_not_cure_is_a_500(
    staff: Client, monkeypatch: Any, error: Exception
) -> None:
    _failing(monkeypatch, "core.apis.organisation_list", error)
    api = staff.get("/api/organisations/")
    assert api.status_code == 500 and "Retry-After" not in api.headers
    assert api.json() == {"message": "Something went wrong on our side.", "extra": {}}
    _failing(monkeypatch, "web.views.pages.is_coordinator", error)
    page = staff.get("/staff/")
    assert page.status_code == 500 and "Retry-After" not in page.headers
    assert b"problem with the service" in page.content
