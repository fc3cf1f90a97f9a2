from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_describes_the_api(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/cases/{case_id}/transitions/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_the_interactive_docs_load_their_assets_from_this_service(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
