"""Celery tasks for connected calendars: thin, by id, safe to run twice (the services claim and compare).

Transient calendar errors are retried inside the services (with backoff); beyond that the periodic sweeps are the
retry layer, so these tasks never retry themselves.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.utils import timezone

# Beat's schedule (setup_periodic_tasks); each sweep runs once per slot of this length, however many beats there are.
SYNC_PERIOD_SECONDS = 300
PUSH_PERIOD_SECONDS = 300


@shared_task(ignore_result=True)
def connection_sync_task(connection_id: int) -> str:
    from scheduling.caldav.sync import connection_sync

    return connection_sync(connection_id, now=timezone.now()).status


@shared_task(ignore_result=True)
def calendars_sync_due_task() -> int:
    """Every 5 minutes from beat: queue a sync for each connection that is due and whose breaker is closed. Runs once
    per slot even if two beats enqueue it."""
    from notifications.dispatch import run_once
    from scheduling.caldav.sync import calendars_sync_due

    now = timezone.now()
    if not run_once("calendars_sync", period_seconds=SYNC_PERIOD_SECONDS, now=now):
        return 0
    due = calendars_sync_due(now=now)
    for connection_id in due:
        connection_sync_task.apply_async((connection_id,), retry=False)
    return len(due)


@shared_task(ignore_result=True)
def meeting_push_task(meeting_id: int) -> dict[str, Any]:
    from scheduling.caldav.push import meeting_push

    return vars(meeting_push(meeting_id, now=timezone.now()))


@shared_task(ignore_result=True)
def calendar_push_due_task() -> int:
    """Every 5 minutes from beat: queue a push for each meeting some connected calendar has not caught up with. Runs
    once per slot even if two beats enqueue it."""
    from notifications.dispatch import run_once
    from scheduling.caldav.push import calendar_push_due

    now = timezone.now()
    if not run_once("calendar_push", period_seconds=PUSH_PERIOD_SECONDS, now=now):
        return 0
    due = calendar_push_due(now=now)
    for meeting_id in due:
        meeting_push_task.apply_async((meeting_id,), retry=False)
    return len(due)
