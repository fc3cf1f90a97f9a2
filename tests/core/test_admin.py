"""The admin: every model is registered, and each list (with its filters) and each add page opens."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin

pytestmark = pytest.mark.django_db
APPS = ("core", "booking", "scheduling", "notifications")


def test_every_model_is_registered() -> None:
    missing = [m._meta.label for m in apps.get_models() if m._meta.app_label in APPS and m not in admin.site._registry]
    assert missing == []


def test_every_admin_list_opens_with_demo_data(client: Any) -> None:
    from django.contrib.auth import get_user_model

    from core.clock import local_today
    from core.management.commands.seed_demo import seed

    seed(today=local_today())
    client.force_login(get_user_model().objects.get(username="admin"))
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        for spec in model_admin.list_filter:
            if isinstance(spec, str):
                assert client.get(f"{url}?{spec}__isnull=False").status_code in (200, 302), (url, spec)
    assert client.get("/admin/booking/case/?due=7").status_code == 200
    assert client.get("/admin/booking/case/?due=overdue").status_code == 200
