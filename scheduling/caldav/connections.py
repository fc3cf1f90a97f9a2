"""Connecting a calendar, listing and removing connections, and "sync now".

Connecting and testing call the server inside the request on purpose: the person is waiting for the answer (with the
client's timeout of at most 10 s). Everything else reaches calendar servers only from background tasks.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404

from core.errors import ApplicationError, ConflictError
from scheduling.availability import resources_visible
from scheduling.caldav.client import CalDAVClient, CalDAVError, CalendarInfo
from scheduling.caldav.crypto import secret_encrypt
from scheduling.caldav.hosts import UnsafeHostError, server_url_check
from scheduling.caldav.sync import SOURCE, connection_sync
from scheduling.models import BusyBlock, CalendarConnection, Resource

logger = logging.getLogger(__name__)

FIELD_OF_KIND = {"auth": "app_password", "not_found": "server_url", "tls": "server_url"}


def calendars_list(*, server_url: str, username: str, app_password: str) -> list[CalendarInfo]:
    """The calendars the server offers this account, or an ApplicationError worded for the person connecting."""
    try:
        server_url_check(server_url)
    except UnsafeHostError as exc:
        raise ApplicationError(str(exc), {"fields": {"server_url": [str(exc)]}}) from None
    try:
        with CalDAVClient(server_url, username, app_password, timeout=settings.CALDAV_TIMEOUT_SECONDS) as client:
            return client.test_connection()
    except CalDAVError as exc:
        message = _message(exc)
        field = FIELD_OF_KIND.get(exc.kind, "server_url")
        raise ApplicationError(message, {"kind": exc.kind, "fields": {field: [message]}}) from None


def _message(exc: CalDAVError) -> str:
    if exc.kind == "auth" and "403" in exc.message:
        return "The server refused access to this address (403). Check the server address and username."
    if exc.kind == "auth":
        return "The server did not accept this username and app password."
    if exc.kind == "not_found":
        return "There is no CalDAV calendar server at this address. Check the server address."
    if exc.kind == "tls":
        return f"A secure connection to the server failed: {exc.message}."
    if exc.kind == "timeout":
        return f"The server did not answer in time ({exc.message}). Try again later, or check the address."
    if exc.kind == "unreachable":
        return f"The server cannot be reached: {exc.message}."
    return f"The server gave an unexpected answer: {exc.message}."


def connection_create(
    *,
    resource: Resource,
    server_url: str,
    username: str,
    app_password: str,
    calendar_url: str = "",
    calendar_name: str = "",
    push_enabled: bool = True,
) -> CalendarConnection:
    if CalendarConnection.objects.filter(resource=resource).exists():
        raise ConflictError("This calendar is already connected: disconnect it first to connect another.")
    calendars = calendars_list(server_url=server_url, username=username, app_password=app_password)
    chosen = _choose(calendars, calendar_url=calendar_url, calendar_name=calendar_name)
    connection = CalendarConnection(
        resource=resource,
        server_url=server_url,
        username=username,
        password_encrypted=secret_encrypt(app_password),
        calendar_url=chosen.url,
        calendar_name=chosen.name,
        push_enabled=push_enabled,
    )
    connection.full_clean(exclude=["resource"])
    with transaction.atomic():
        if CalendarConnection.objects.select_for_update().filter(resource=resource).exists():
            raise ConflictError("This calendar is already connected: disconnect it first to connect another.")
        connection.save()
    return connection


def _choose(calendars: list[CalendarInfo], *, calendar_url: str, calendar_name: str) -> CalendarInfo:
    names = sorted(c.name for c in calendars)
    for info in calendars:
        if (calendar_url and info.url.rstrip("/") == calendar_url.rstrip("/")) or (
            not calendar_url and calendar_name and info.name == calendar_name
        ):
            return info
    if not calendar_url and not calendar_name and len(calendars) == 1:
        return calendars[0]
    field = "calendar_url" if calendar_url else "calendar_name"
    message = "Choose one of the server's calendars: " + (", ".join(names) if names else "it has none.")
    raise ApplicationError(message, {"fields": {field: [message]}, "calendars": [vars(c) for c in calendars]})


def connection_list(*, user: Any) -> QuerySet[CalendarConnection]:
    visible = Resource.objects.filter(resources_visible(user))
    return CalendarConnection.objects.filter(resource__in=visible).select_related("resource")


def connection_get(*, user: Any, connection_id: int) -> CalendarConnection:
    connection = connection_list(user=user).filter(pk=connection_id).first()
    if connection is None:
        raise Http404
    return connection


@transaction.atomic
def connection_delete(*, connection: CalendarConnection) -> None:
    """Forget the calendar and the busy time read from it. Meetings already written there stay in it."""
    BusyBlock.objects.filter(resource_id=connection.resource_id, source=SOURCE).delete()
    connection.delete()


def connection_sync_request(*, connection: CalendarConnection, now: datetime) -> CalendarConnection:
    """ "Sync now": queued for a worker; with no broker (the embedded default) it runs here and now."""
    if settings.CELERY_BROKER_URL:
        from scheduling.tasks import connection_sync_task

        pk = connection.pk
        transaction.on_commit(lambda: _enqueue(connection_sync_task, pk))
    else:
        connection_sync(connection.pk, now=now)
    connection.refresh_from_db()
    return connection


def _enqueue(task: Any, pk: int) -> None:
    try:
        task.apply_async((pk,), retry=False)
    except Exception:  # a broker outage: the periodic sweep syncs it soon anyway
        logger.warning("Could not queue the sync of calendar connection %s", pk, exc_info=True)
