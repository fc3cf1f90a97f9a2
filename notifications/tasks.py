"""Celery tasks: thin wrappers that load by id and call a service. No task has an ETA or countdown."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

DISPATCH_PERIOD_SECONDS = 15
MAINTENANCE_PERIOD_SECONDS = 60


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def message_send_task(message_id: int) -> str:
    from notifications.sending import message_send

    return message_send(message_id)


@shared_task(ignore_result=True)
def dispatch_due_task() -> int:
    """Every 15 s from beat: hand due rows to workers. Runs once per slot even if two beats enqueue it."""
    from notifications.dispatch import dispatch_due, run_once

    now = timezone.now()
    if not run_once("dispatch", period_seconds=DISPATCH_PERIOD_SECONDS, now=now):
        return 0
    return dispatch_due(now=now, send=lambda pk: message_send_task.apply_async((pk,), retry=False))


@shared_task(ignore_result=True)
def maintenance_task() -> dict[str, int]:
    from notifications.dispatch import maintenance, run_once

    now = timezone.now()
    if not run_once("maintenance", period_seconds=MAINTENANCE_PERIOD_SECONDS, now=now):
        return {}
    return maintenance(now=now)
