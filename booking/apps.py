from __future__ import annotations

from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Cases and bookings"
