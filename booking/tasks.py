"""Periodic jobs for certificates (hourly) and retention (daily). Each guards itself against a second beat with
notifications' run_once."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

HOUR_SECONDS = 60 * 60
DAY_SECONDS = 24 * 60 * 60


@shared_task(ignore_result=True)
def certificates_due_alerts_task() -> int:
    from booking.certificates import certificates_due_alerts
    from notifications.dispatch import run_once

    now = timezone.now()
    if not run_once("certificates_due", period_seconds=HOUR_SECONDS, now=now):
        return 0
    return certificates_due_alerts(now=now)


@shared_task(ignore_result=True)
def retention_apply_task() -> int:
    from booking.retention import retention_apply
    from notifications.dispatch import run_once

    now = timezone.now()
    if not run_once("retention", period_seconds=DAY_SECONDS, now=now):
        return 0
    return retention_apply(now=now)
