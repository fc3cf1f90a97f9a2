"""Define beat's schedule in the database (run at deploy). Every job also guards itself against a second beat."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

JOBS = [
    # (name, task, every seconds)
    ("Dispatch due messages", "notifications.tasks.dispatch_due_task", 15),
    ("Release holds, expire offers", "notifications.tasks.maintenance_task", 60),
    ("Sync connected calendars", "scheduling.tasks.calendars_sync_due_task", 300),
    ("Push meetings to calendars", "scheduling.tasks.calendar_push_due_task", 300),
    ("Alert coordinators of certificates due", "booking.tasks.certificates_due_alerts_task", 3600),
    ("Apply data retention", "booking.tasks.retention_apply_task", 86400),
]


class Command(BaseCommand):
    help = "Create or update the periodic tasks."

    def handle(self, *args: Any, **options: Any) -> None:
        for name, task, seconds in JOBS:
            every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": every, "enabled": True}
            )
        self.stdout.write(f"{len(JOBS)} periodic tasks ready.")
