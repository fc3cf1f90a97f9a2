"""Sync connected calendars now, and write any meetings they lag behind on (the embedded default has no worker:
run this from cron, or by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scheduling.caldav.push import calendar_push_due, meeting_push
from scheduling.caldav.sync import calendars_sync_due, connection_sync
from scheduling.models import CalendarConnection


class Command(BaseCommand):
    help = "Sync connected CalDAV calendars (all due ones, or one) and push meetings they have not caught up with."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="every connection whose sync is due")
        which.add_argument("--connection", type=int, metavar="ID", help="this connection, due or not")
        parser.add_argument("--no-push", action="store_true", help="only pull busy time")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["connection"] is not None:
            if not CalendarConnection.objects.filter(pk=options["connection"]).exists():
                raise CommandError(f"No calendar connection {options['connection']}.")
            ids = [options["connection"]]
        else:
            ids = calendars_sync_due(now=now)
        for connection_id in ids:
            outcome = connection_sync(connection_id, now=now)
            detail = outcome.error or f"{outcome.changed} changed, {outcome.deleted} deleted, {outcome.blocks} busy"
            self.stdout.write(f"connection {connection_id}: {outcome.status} ({detail})")
        if not options["no_push"]:
            for meeting_id in calendar_push_due(now=now):
                result = meeting_push(meeting_id, now=now)
                self.stdout.write(f"meeting {meeting_id}: {vars(result)}")
