"""Every periodic job of beat's schedule guards itself against a second beat: however often it is enqueued within one
slot of its period, its work is done once.

The in-process check of what the two-beat test in test_production_flow.py shows with real processes (where the calendar
sweeps and the certificate alerts used to run once per beat). Not marked: it runs in both passes.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
import time_machine

from notifications.management.commands.setup_periodic_tasks import JOBS

# The service each periodic task calls when it runs.
SERVICES = {
    "notifications.tasks.dispatch_due_task": "notifications.dispatch.dispatch_due",
    "notifications.tasks.maintenance_task": "notifications.dispatch.maintenance",
    "scheduling.tasks.calendars_sync_due_task": "scheduling.caldav.sync.calendars_sync_due",
    "scheduling.tasks.calendar_push_due_task": "scheduling.caldav.push.calendar_push_due",
    "booking.tasks.certificates_due_alerts_task": "booking.certificates.certificates_due_alerts",
    "booking.tasks.retention_apply_task": "booking.retention.retention_apply",
}
# One second into a slot of every period (each divides a day, and days start on slot boundaries).
SLOT_START = datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC)


def test_every_scheduled_job_is_covered() -> None:
    assert {task for _, task, _ in JOBS} == set(SERVICES)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "task", "period"), JOBS, ids=[task for _, task, _ in JOBS])
def test_a_periodic_job_does_its_work_once_per_slot(name: str, task: str, period: int) -> None:
    module, _, attribute = task.rpartition(".")
    job: Any = getattr(importlib.import_module(module), attribute)
    with patch(SERVICES[task], autospec=True) as service:
        for moment, runs in (
            (SLOT_START, 1),
            (SLOT_START, 1),  # a second beat, at the same moment
            (SLOT_START + timedelta(seconds=period - 2), 1),  # or later in the same slot
            (SLOT_START + timedelta(seconds=period), 2),  # the next slot
        ):
            with time_machine.travel(moment, tick=False):
                job()
            assert service.call_count == runs, (name, moment)
