"""The last-resort handler: a database error raised outside any view (here, while the audit middleware records a read)
is a 503 that says to try again, in the API's shape under /api/ and as a plain page elsewhere; anything else is a
plain 500 without a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from tests.faults.test_database_faults import UNAVAILABLE
from tests.web.conftest import NOW, TODAY
from tests.web.factories import offered_case

pytestmark = pytest.mark.django_db


def _failing_audit(monkeypatch: Any, error: Exception) -> None:
    def record(**_: Any) -> None:
        raise error

    monkeypatch.setattr("booking.audit.audit_record", record)


def test_a_database_error_after_the_view_is_a_503_page(monkeypatch: Any) -> None:
    _, _, _, token = offered_case(today=TODAY, now=NOW)
    _failing_audit(monkeypatch, OperationalError("server closed the connection unexpectedly"))
    page = Client(raise_request_exception=False).get(f"/book/{token}/")
    assert page.status_code == 503 and page["Retry-After"]
    assert b"Try again" in page.content and b"Traceback" not in page.content and b"server closed" not in page.content


def test_a_database_error_after_an_api_view_is_a_503_in_the_api_shape(monkeypatch: Any) -> None:
    t, case, _, _ = offered_case(today=TODAY, now=NOW)
    _failing_audit(monkeypatch, OperationalError("server closed the connection unexpectedly"))
    client = Client(raise_request_exception=False)
    client.force_login(t["coordinator"])
    answer = client.get(f"/api/cases/{case.pk}/")
    assert answer.status_code == 503 and answer.json() == UNAVAILABLE


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
