"""Celery tasks for connected calendars: thin, by id, safe to run twice (the services claim and compare).

Transient calendar errors are retried inside the services (with backoff); beyond that the periodic sweeps are the
retry layer, so these tasks never retry themselves.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone


@shared_task(ignore_result=True)
def connection_sync_task(connection_id: int) -> str:
    from scheduling.caldav.sync import connection_sync

    return connection_sync(connection_id, now=timezone.now()).status


@shared_task(ignore_result=True)
def calendars_sync_due_task() -> int:
    """Every few minutes: queue a sync for each connection that is due and whose breaker is closed."""
    from scheduling.caldav.sync import calendars_sync_due

    due = calendars_sync_due(now=timezone.now())
    for connection_id in due:
        connection_sync_task.apply_async((connection_id,), retry=False)
    return len(due)


@shared_task(ignore_result=True)
def meeting_push_task(meeting_id: int) -> dict[str, Any]:
    from scheduling.caldav.push import meeting_push

    return vars(meeting_push(meeting_id, now=timezone.now()))


@shared_task(ignore_result=True)
def calendar_push_due_task() -> int:
    """Every few minutes: queue a push for each meeting some connected calendar has not caught up with."""
    from scheduling.caldav.push import calendar_push_due

    due = calendar_push_due(now=timezone.now())
    for meeting_id in due:
        meeting_push_task.apply_async((meeting_id,), retry=False)
    return len(due)
