"""The last-resort handler: a database error raised outside any view (here, while the audit middleware records a read,
because another connection holds the audit table's write lock past the timeout) is a 503 that says to try again, in
the API's shape under /api/ and as a plain page elsewhere; anything else is a plain 500 without a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.faults.test_database_busy import another_connection_holding, short_lock_wait  # noqa: F401
from tests.faults.test_database_faults import UNAVAILABLE
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case


def audit_table_locked() -> Any:
    """Another connection holds what an insert into the audit table needs, until the block ends; reads go on."""
    return another_connection_holding("LOCK TABLE booking_auditevent IN EXCLUSIVE MODE")


def _failing_audit(monkeypatch: Any, error: Exception) -> None:
    def record(**_: Any) -> None:
        raise error

    monkeypatch.setattr("booking.audit.audit_record", record)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("short_lock_wait")
def test_a_database_error_after_the_view_is_a_503_page() -> None:
    _, _, _, token = offered_case(today=TODAY, now=NOW)
    with audit_table_locked():
        page = Client(raise_request_exception=False).get(f"/book/{token}/")
    assert page.status_code == 503 and page["Retry-After"]
    assert b"Try again" in page.content and b"Traceback" not in page.content and b"lock" not in page.content


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("short_lock_wait")
def test_a_database_error_after_an_api_view_is_a_503_in_the_api_shape() -> None:
    t, case, _, _ = offered_case(today=TODAY, now=NOW)
    client = Client(raise_request_exception=False)
    client.force_login(t["coordinator"])
    with audit_table_locked():
        answer = client.get(f"/api/cases/{case.pk}/")
    assert answer.status_code == 503 and answer.json() == UNAVAILABLE


@pytest.mark.django_db
def test_any_other_error_is_a_plain_500_page_without_details(monkeypatch: Any) -> None:
    t, case, _, token = offered_case(today=TODAY, now=NOW)
    _failing_audit(monkeypatch, RuntimeError("a bug with secret detail"))
    page = Client(raise_request_exception=False).get(f"/book/{token}/")
    assert (
        page.status_code == 500 and b"secret detail" not in page.content and b"problem with the service" in page.content
    )
    client = Client(raise_request_exception=False)
    client.force_login(t["coordinator"])
    api = client.get(f"/api/cases/{case.pk}/")
    assert api.status_code == 500 and set(api.json()) == {"message", "extra"}
