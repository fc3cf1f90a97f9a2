from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Organisations and people"

    def ready(self) -> None:
        import logging

        from core import checks  # noqa: F401
        from core.security import PathTokenFilter

        # Django's request log names the path of every 4xx and 5xx: never with a family's or attendee's link token.
        logging.getLogger("django.request").addFilter(PathTokenFilter())
