"""Reading the clock, once per operation, and turning it into the date people in England see."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def local_today(now: datetime | None = None) -> date:
    """Today in the service's display zone (Europe/London): the date statutory clocks count from."""
    now = now or timezone.now()
    return now.astimezone(ZoneInfo(settings.DISPLAY_TIME_ZONE)).date()
