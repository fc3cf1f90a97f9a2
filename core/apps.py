from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Organisations and people"

    def ready(self) -> None:
        from core import checks  # noqa: F401
