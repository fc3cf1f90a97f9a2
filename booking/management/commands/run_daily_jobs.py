"""Run the daily booking jobs once now: certificate due alerts and retention (for the embedded default and cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone


class Command(BaseCommand):
    help = "Alert coordinators to certificates falling due, and anonymise closed cases past their retention period."

    def handle(self, *args: Any, **options: Any) -> None:
        from booking.certificates import certificates_due_alerts
        from booking.retention import retention_apply

        now = timezone.now()
        alerts = certificates_due_alerts(now=now)
        anonymised = retention_apply(now=now)
        self.stdout.write(f"{alerts} certificate alerts; {anonymised} cases anonymised.")
