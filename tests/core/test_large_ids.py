"""An id given in a filter or a body is 1 to 2**63 - 1 (core.fields.IdField). Found by the schema fuzzer: a larger one
reached SQLite, which refuses integers past 64 bits when they are compared with a foreign key: a 500."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

TOO_LARGE = 2**64
LARGEST = 2**63 - 1


def _rule(**resource: Any) -> dict[str, Any]:
    return {**resource, "weekday": 2, "start_time": "09:00", "end_time": "12:00"}


# (method, url, body, the field named in the error)
TOO_LARGE_IDS = [
    ("get", f"/api/availability/rules/?resource={TOO_LARGE}", None, "resource"),
    ("get", f"/api/availability/exceptions/?resource={TOO_LARGE}", None, "resource"),
    ("get", f"/api/cases/?local_authority={TOO_LARGE}", None, "local_authority"),
    ("get", f"/api/reports/?local_authority={TOO_LARGE}&month=2026-11", None, "local_authority"),
    ("post", "/api/availability/rules/", _rule(staff_user=TOO_LARGE), "staff_user"),
    ("post", "/api/availability/rules/", _rule(room=TOO_LARGE), "room"),
]


@pytest.mark.parametrize(("method", "url", "body", "named"), TOO_LARGE_IDS)
def test_an_id_past_the_largest_is_a_400_naming_it(
    world: Any, api: Any, method: str, url: str, body: Any, named: str
) -> None:
    response = getattr(api(world.coordinator_a), method)(url, body, format="json")
    assert response.status_code == 400, response.content
    assert named in response.json()["extra"]["fields"]


@pytest.mark.parametrize(
    "url", [f"/api/availability/rules/?resource={LARGEST}", f"/api/cases/?local_authority={LARGEST}"]
)
def test_the_largest_id_is_read_and_finds_nothing(world: Any, api: Any, url: str) -> None:
    response = api(world.coordinator_a).get(url)
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_the_largest_staff_user_is_not_found(world: Any, api: Any) -> None:
    response = api(world.coordinator_a).post("/api/availability/rules/", _rule(staff_user=LARGEST), format="json")
    assert response.status_code == 404, response.content
