"""Apply the iTIP REPLY in a raw email read from standard input: `manage.py apply_reply < message.eml`."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from booking.calendar_views import apply_raw_message


class Command(BaseCommand):
    help = "Apply a calendar reply (a raw RFC 5322 message on standard input)."

    def handle(self, *args: Any, **options: Any) -> None:
        raw = sys.stdin.buffer.read()
        if not raw.strip():
            raise CommandError("No message on standard input.")
        try:
            counts = apply_raw_message(raw)
        except ValueError as exc:
            raise CommandError(f"No readable calendar reply: {exc}") from None
        self.stdout.write(f"applied {counts['applied']}, stale {counts['stale']}, unmatched {counts['unmatched']}")
