"""Every list is paged by limit and offset (core/pagination.py); a limit past the maximum is cut to it."""

from __future__ import annotations

from typing import Any

import pytest

from core.pagination import Pagination

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("limit", ["45675584343763353600", "9223372036854775808", "1000000"])
def test_a_limit_too_large_is_cut_to_the_maximum(world: Any, api: Any, limit: str) -> None:
    """Found by the schema fuzzer: a limit past 64 bits reached the database, which refused it (a 409 on SQLite,
    a 503 on PostgreSQL); and with no cap a client could ask for every row at once."""
    response = api(world.coordinator_a).get(f"/api/organisations/?limit={limit}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"]) == 3  # provider A, the LA it serves and that LA's ICB


def test_the_page_is_never_longer_than_the_maximum(world: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Pagination, "max_limit", 2)
    body = api(world.coordinator_a).get("/api/organisations/?limit=100").json()
    assert len(body["results"]) == 2
    assert "limit=2" in body["next"]
