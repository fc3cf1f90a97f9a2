"""Finding due messages and handing them out, and the periodic jobs around them.

On PostgreSQL the due rows are claimed with SELECT … FOR UPDATE SKIP LOCKED, so several dispatchers never hand out
the same row; elsewhere a conditional UPDATE does the same job. A handed-out row carries a lease: if no worker has
taken it when the lease ends (the broker lost the task), it is handed out again. A row whose worker died mid-send
(status sending, lease over) goes back to pending and is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from notifications.models import Message, PeriodicRun
from notifications.sending import lease

logger = logging.getLogger(__name__)


def run_once(job: str, *, period_seconds: int, now: datetime) -> bool:
    """True for the first caller of this job in this time slot; False for any other (a second beat, a retry)."""
    slot = int(now.timestamp()) // period_seconds
    try:
        with transaction.atomic():
            PeriodicRun.objects.create(job=job, slot=slot)
    except IntegrityError:
        return False
    return True


def reclaim_abandoned(*, now: datetime) -> int:
    """Rows left in 'sending' by a worker that died go back to pending."""
    return Message.objects.filter(status=Message.Status.SENDING, lease_until__lt=now).update(
        status=Message.Status.PENDING, lease_until=None, last_error="worker lost mid-send; sending again"
    )


def claim_due(*, now: datetime, limit: int = 500) -> list[int]:
    due = Q(status=Message.Status.PENDING, due_at__lte=now) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    with transaction.atomic():
        qs = Message.objects.filter(due).order_by("due_at", "pk")
        if connection.vendor == "postgresql":
            ids = list(qs.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
            Message.objects.filter(pk__in=ids).update(lease_until=now + lease())
            return ids
        candidates = list(qs.values_list("pk", flat=True)[:limit])
        return [pk for pk in candidates if Message.objects.filter(due, pk=pk).update(lease_until=now + lease())]


def dispatch_due(*, now: datetime, send: Callable[[int], object], limit: int = 500) -> int:
    """Hand every due row to `send` (a Celery enqueue in production, a direct send in the embedded default)."""
    reclaim_abandoned(now=now)
    ids = claim_due(now=now, limit=limit)
    for message_id in ids:
        send(message_id)
    return len(ids)


def maintenance(*, now: datetime) -> dict[str, int]:
    """Release expired holds and close expired offers (telling the coordinator)."""
    from booking.offers import offers_expire_due
    from scheduling.occupancy import holds_release_expired

    return {"offers_expired": offers_expire_due(now=now), "holds_released": holds_release_expired(now=now)}


def next_due(*, now: datetime) -> datetime | None:
    row = Message.objects.filter(status=Message.Status.PENDING).order_by("due_at").values_list("due_at").first()
    return row[0] if row else None


__all__ = ["claim_due", "dispatch_due", "maintenance", "reclaim_abandoned", "run_once", "next_due", "timedelta"]
