from __future__ import annotations

from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Cases and bookings"

    def ready(self) -> None:
        from booking import audit  # noqa: F401 - connects the audit trail's signals and its read-only admin
