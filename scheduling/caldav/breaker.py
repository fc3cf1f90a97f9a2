"""Containing a failing calendar server: retries with backoff for transient errors, and a circuit breaker per
connection (after N failed syncs in a row, no calls for a cool-down; the first sync after it is the trial)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings

from scheduling.caldav.client import CalDAVConflict, CalDAVError
from scheduling.models import CalendarConnection

T = TypeVar("T")


def with_retries(call: Callable[[], T]) -> T:
    """``call()``, tried again after a pause for transient errors; permanent ones and conflicts are raised at once."""
    attempts = max(1, settings.CALDAV_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except CalDAVConflict:
            raise
        except CalDAVError as exc:
            if exc.permanent or attempt == attempts:
                raise
            time.sleep(settings.CALDAV_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def breaker_open(connection: CalendarConnection, *, now: datetime) -> bool:
    return connection.breaker_open_until is not None and connection.breaker_open_until > now


def failure_record(connection: CalendarConnection, *, now: datetime, message: str) -> CalendarConnection:
    """Count a failed sync; at the threshold (and after each failed trial past it) open the breaker."""
    connection.consecutive_failures += 1
    connection.last_error = message[:1000]
    connection.last_sync_at = now
    if connection.consecutive_failures >= settings.CALDAV_BREAKER_FAILURES:
        connection.breaker_open_until = now + timedelta(minutes=settings.CALDAV_BREAKER_COOLDOWN_MINUTES)
    connection.save(update_fields=["consecutive_failures", "last_error", "last_sync_at", "breaker_open_until"])
    return connection
