"""Handing a task to the broker from a request, without ever holding the request up.

Celery's own publish retries the connection for a long time when the broker is down; a booking must not wait for
that. Here the connection gets one quick try; on failure the caller's periodic sweep sends the work later.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def enqueue_now(task: Any, *args: Any) -> bool:
    """Queue `task(*args)` if a broker is configured and answers at once. Returns whether it was queued."""
    if not settings.CELERY_BROKER_URL:
        return False
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            task.apply_async(args, connection=conn, retry=False)
    except Exception:  # noqa: BLE001 - any broker failure: logged, and the periodic sweep catches up
        logger.warning("Broker unavailable; %s%r waits for the periodic sweep", task.name, args)
        return False
    return True
