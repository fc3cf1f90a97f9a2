"""Pulling busy time from connected calendars into BusyBlock rows, which the slot engine reads.

Incremental with RFC 6578 sync-collection where the server has it (the client falls back to a full listing by itself
when a token is refused); otherwise by comparing ETags. Every event is expanded over the same window, from a day ago to
the scheduling horizon plus a week; when the horizon moves past that window a full listing re-reads every event, so
recurring series keep covering the horizon. Network calls happen before the transaction, never inside it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from scheduling.caldav.breaker import breaker_open, failure_record, with_retries
from scheduling.caldav.busy import busy_intervals
from scheduling.caldav.client import CalDAVClient, CalDAVError
from scheduling.caldav.crypto import SecretUnreadableError, secret_decrypt
from scheduling.caldav.hosts import UnsafeHostError, server_url_check
from scheduling.models import BusyBlock, CalendarConnection

logger = logging.getLogger(__name__)

SOURCE = "caldav"
CLAIM_LEASE = timedelta(minutes=5)
WINDOW_PAST = timedelta(days=1)
WINDOW_SLACK = timedelta(days=7)
UID_LINE = re.compile(r"^UID[;:](?:[^:\r\n]*:)?([^\r\n]*)", re.MULTILINE)


@dataclass(frozen=True)
class SyncOutcome:
    status: str  # synced, failed, breaker_open, busy
    full: bool = False
    changed: int = 0
    deleted: int = 0
    blocks: int = 0
    error: str = ""


@dataclass
class _Fetched:
    mode: str
    token: str
    full: bool
    changed: dict[str, tuple[str, str]]
    deleted: set[str]
    etags: dict[str, str] = field(default_factory=dict)


def connection_client(connection: CalendarConnection) -> CalDAVClient:
    for url in {connection.server_url, connection.calendar_url}:
        server_url_check(url)
    password = secret_decrypt(connection.password_encrypted)
    return CalDAVClient(connection.server_url, connection.username, password, timeout=settings.CALDAV_TIMEOUT_SECONDS)


def connection_sync(connection_id: int, *, now: datetime) -> SyncOutcome:
    connection = CalendarConnection.objects.select_related("resource").get(pk=connection_id)
    if breaker_open(connection, now=now):
        return SyncOutcome("breaker_open", error=connection.last_error)
    if not _claim(connection.pk, now=now):
        return SyncOutcome("busy")
    try:
        full = _needs_full(connection, now=now)
        try:
            fetched = with_retries(lambda: _fetch(connection, full=full))
        except (CalDAVError, SecretUnreadableError, UnsafeHostError) as exc:
            logger.info("Calendar sync of connection %s failed: %s", connection.pk, exc)
            failure_record(connection, now=now, message=str(exc))
            return SyncOutcome("failed", error=str(exc))
        return _apply(connection, fetched, now=now)
    finally:
        CalendarConnection.objects.filter(pk=connection.pk).update(sync_claimed_until=None)


def _claim(connection_id: int, *, now: datetime) -> bool:
    free = Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now)
    claimed = CalendarConnection.objects.filter(free, pk=connection_id).update(sync_claimed_until=now + CLAIM_LEASE)
    return claimed == 1


def _needs_full(connection: CalendarConnection, *, now: datetime) -> bool:
    horizon = timedelta(weeks=settings.CALDAV_HORIZON_WEEKS)
    return connection.synced_until is None or connection.synced_until < now + horizon


def _fetch(connection: CalendarConnection, *, full: bool) -> _Fetched:
    with connection_client(connection) as client:
        if connection.sync_mode == "etag":
            return _fetch_by_etags(client, connection, full=full)
        result = client.sync(connection.calendar_url, None if full else connection.sync_token or None)
        mode = "sync" if result.token else "etag"  # no token: the server refused sync-collection
        if result.full:
            etags = {href: etag for href, (etag, _) in result.changed.items()}
        else:
            etags = {h: e for h, e in connection.etags.items() if h not in result.deleted}
            etags.update({href: etag for href, (etag, _) in result.changed.items()})
        return _Fetched(mode, result.token or "", result.full, result.changed, set(result.deleted), etags)


def _fetch_by_etags(client: CalDAVClient, connection: CalendarConnection, *, full: bool) -> _Fetched:
    current = client.list_etags(connection.calendar_url)
    known: dict[str, str] = connection.etags
    wanted = list(current) if full else [h for h, etag in current.items() if known.get(h) != etag]
    changed = client.get_events(connection.calendar_url, wanted) if wanted else {}
    vanished = set(wanted) - changed.keys()
    etags = {h: e for h, e in current.items() if h not in vanished}
    etags.update({href: etag for href, (etag, _) in changed.items()})
    deleted = (set(known) - set(current)) | vanished
    return _Fetched("etag", "", full, changed, set() if full else deleted, etags)


@transaction.atomic
def _apply(connection: CalendarConnection, fetched: _Fetched, *, now: datetime) -> SyncOutcome:
    window_start = now - WINDOW_PAST
    full = fetched.full or connection.synced_until is None
    window_end = (
        now + timedelta(weeks=settings.CALDAV_HORIZON_WEEKS) + WINDOW_SLACK if full else connection.synced_until
    )
    assert window_end is not None
    resource = connection.resource
    blocks = list(_blocks(resource.pk, resource.timezone, fetched.changed.items(), window_start, window_end))
    mine = BusyBlock.objects.filter(resource_id=resource.pk, source=SOURCE)
    if full:
        mine.delete()
    else:
        mine.filter(href__in=set(fetched.changed) | fetched.deleted).delete()
    BusyBlock.objects.bulk_create(blocks, batch_size=500)
    connection.sync_mode, connection.sync_token, connection.etags = fetched.mode, fetched.token, fetched.etags
    connection.synced_until = window_end
    connection.last_sync_at = connection.last_success_at = now
    connection.last_error, connection.consecutive_failures, connection.breaker_open_until = "", 0, None
    connection.save(
        update_fields=[
            "sync_mode", "sync_token", "etags", "synced_until", "last_sync_at", "last_success_at", "last_error",
            "consecutive_failures", "breaker_open_until",
        ]
    )  # fmt: skip
    return SyncOutcome("synced", full, len(fetched.changed), len(fetched.deleted), len(blocks))


def _blocks(
    resource_id: int, tz: str, events: Iterable[tuple[str, tuple[str, str]]], start: datetime, end: datetime
) -> Iterable[BusyBlock]:
    for href, (_, text) in events:
        try:
            intervals = busy_intervals(text, window_start=start, window_end=end, default_tz=tz)
            uid = _first_uid(text)
        except Exception:  # one unreadable event in someone's calendar must not stop the whole sync
            logger.warning("Skipped an unreadable calendar event %s", href, exc_info=True)
            continue
        for busy_start, busy_end in intervals:
            yield BusyBlock(
                resource_id=resource_id, start=busy_start, end=busy_end, source=SOURCE, external_uid=uid[:255],
                href=href[:500],
            )  # fmt: skip


def _first_uid(text: str) -> str:
    # For the record only (which event a block came from), so a quick look saves parsing every event twice.
    match = UID_LINE.search(text.replace("\r\n ", "").replace("\n ", ""))
    return match.group(1).strip() if match else ""


def stale_resource_ids(*, now: datetime, resource_ids: Iterable[int] | None = None) -> set[int]:
    """Resources with a connected calendar whose last good sync is older than CALDAV_STALE_AFTER_MINUTES (or that
    has never synced): their busy time may be missing, so their slots say "calendar not up to date"."""
    cutoff = now - timedelta(minutes=settings.CALDAV_STALE_AFTER_MINUTES)
    qs = CalendarConnection.objects.filter(Q(last_success_at__isnull=True) | Q(last_success_at__lt=cutoff))
    if resource_ids is not None:
        qs = qs.filter(resource_id__in=list(resource_ids))
    return set(qs.values_list("resource_id", flat=True))


def connection_is_stale(connection: CalendarConnection, *, now: datetime) -> bool:
    cutoff = now - timedelta(minutes=settings.CALDAV_STALE_AFTER_MINUTES)
    return connection.last_success_at is None or connection.last_success_at < cutoff


def calendars_sync_due(*, now: datetime) -> list[int]:
    """Connections whose last attempt is older than the sync interval and whose breaker is closed."""
    cutoff = now - timedelta(minutes=settings.CALDAV_SYNC_INTERVAL_MINUTES)
    due = Q(last_sync_at__isnull=True) | Q(last_sync_at__lte=cutoff)
    closed = Q(breaker_open_until__isnull=True) | Q(breaker_open_until__lte=now)
    return list(CalendarConnection.objects.filter(due, closed).order_by("last_sync_at").values_list("pk", flat=True))
