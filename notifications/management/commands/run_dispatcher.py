"""The embedded default's sender: without a broker, this loop sends due messages and runs the periodic jobs."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from notifications.dispatch import dispatch_due, maintenance
from notifications.sending import message_send


class Command(BaseCommand):
    help = "Send due messages and run periodic jobs in a loop (the embedded default; production uses Celery)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            close_old_connections()
            now = timezone.now()
            jobs = maintenance(now=now)
            sent = dispatch_due(now=now, send=lambda pk, now=now: message_send(pk, now=now))
            if sent or any(jobs.values()):
                self.stdout.write(f"{now:%H:%M:%S} sent {sent} message(s); {jobs}", ending="\n")
                self.stdout.flush()
            if options["once"]:
                return
            time.sleep(options["interval"])
