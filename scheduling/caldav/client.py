"""A thin client over the caldav library: list calendars, sync their events, write ours.

No ORM, no settings, no domain objects. Every request has a timeout, and every failure comes out as a
``CalDAVError`` that says whether retrying can help (``permanent``) and what went wrong (``kind``).

Resources are named by their path on the server, unquoted (``/alice/mary/meeting-1@send.example.ics``):
the same name whichever spelling (``%40`` or ``@``) a server uses in a given answer.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import caldav
import niquests
from caldav.elements import dav
from caldav.lib import error
from lxml import etree

NO_SERVER = "no CalDAV server at that address"
NO_CALENDAR = "no calendar at that address"
SAFE_NAME = re.compile(r"[A-Za-z0-9@._-]{1,120}")
MULTIGET_BATCH = 100
# Statuses with which a server turns down a sync-collection REPORT it cannot or will not answer.
SYNC_REFUSED = frozenset({400, 403, 409, 412, 415, 422, 501})


class CalDAVError(Exception):
    """``kind`` is one of auth, not_found, tls, timeout, unreachable, protocol."""

    def __init__(self, message: str, permanent: bool, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.kind = kind


class CalDAVConflict(CalDAVError):
    """If-Match failed: the event changed or went away since its ETag was read. Re-read, then write."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False, kind="protocol")


@dataclass(frozen=True)
class CalendarInfo:
    url: str
    name: str


@dataclass(frozen=True)
class SyncResult:
    """``changed`` maps href to (etag, iCalendar text). With ``full`` the listing is complete and every
    href the caller knew that is not in ``changed`` is gone; otherwise ``deleted`` lists the removals."""

    token: str | None
    changed: dict[str, tuple[str, str]]
    deleted: set[str]
    full: bool


class CalDAVClient:
    def __init__(self, url: str, username: str, password: str, *, timeout: float = 10) -> None:
        if not url:
            raise ValueError("a CalDAV server URL is required")
        self.url = url
        self.username = username
        self._password = password
        self.timeout = timeout
        self._dav: caldav.DAVClient | None = None

    def __enter__(self) -> CalDAVClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._dav is not None:
            self._dav.close()
            self._dav = None

    def list_calendars(self) -> list[CalendarInfo]:
        with self._errors(NO_SERVER):
            calendars = self._client().principal().get_calendars()
            return [CalendarInfo(str(c.url), c.get_display_name() or _last_segment(str(c.url))) for c in calendars]

    def test_connection(self) -> list[CalendarInfo]:
        """The calendars, or an error worded for the person who typed the address and password."""
        try:
            return self.list_calendars()
        except CalDAVError as exc:
            if exc.kind == "protocol" and exc.permanent:
                raise CalDAVError(f"{NO_SERVER} ({exc.message})", permanent=True, kind="not_found") from exc
            raise

    def sync(self, calendar_url: str, sync_token: str | None) -> SyncResult:
        """Changes since ``sync_token`` (RFC 6578), or everything (``full``) when there is no usable token."""
        with self._errors(NO_CALENDAR):
            calendar = self._calendar(calendar_url)
            report = self._sync_report(calendar, sync_token) if sync_token else None
            full = report is None
            if report is None:
                report = self._sync_report(calendar, None)
            if report is None:
                return self._listing(calendar)
            return self._sync_result(calendar, report, full=full)

    def list_etags(self, calendar_url: str) -> dict[str, str]:
        """href -> ETag of every resource: the fallback for servers without sync-collection."""
        with self._errors(NO_CALENDAR):
            return {_href(h): etag for h, etag in self._etags(self._calendar(calendar_url)).items()}

    def get_events(self, calendar_url: str, hrefs: list[str]) -> dict[str, tuple[str, str]]:
        """href -> (etag, iCalendar text) for the hrefs that still exist."""
        with self._errors(NO_CALENDAR):
            calendar = self._calendar(calendar_url)
            return self._fetch(calendar, [calendar.url.join(quote(h)) for h in hrefs])

    def put_event(self, calendar_url: str, uid: str, ics_text: str, *, etag: str | None) -> str | None:
        """Create or overwrite the event with this UID, exactly as given (SEQUENCE untouched); the new ETag."""
        with self._errors(NO_CALENDAR):
            calendar = self._calendar(calendar_url)
            try:
                return self._put(calendar, calendar.url.join(_resource_name(uid)), ics_text, etag)
            except error.UidConflictError:
                # Another client stored this UID under another name: overwrite it there, never a second copy.
                existing = calendar.get_event_by_uid(uid)
                return self._put(calendar, existing.url, ics_text, etag)

    def delete_event(self, calendar_url: str, uid: str) -> bool:
        """Remove the event with this UID; False when there was none (already gone is fine)."""
        with self._errors(NO_CALENDAR):
            calendar = self._calendar(calendar_url)
            if self._delete(calendar.url.join(_resource_name(uid))):
                return True
            try:
                existing = calendar.get_event_by_uid(uid)
            except error.NotFoundError:
                return False
            return self._delete(existing.url)

    def _client(self) -> caldav.DAVClient:
        if self._dav is None:
            self._dav = caldav.DAVClient(
                url=self.url,
                username=self.username,
                password=self._password,
                timeout=self.timeout,  # type: ignore[arg-type]  # passed to niquests, which takes floats
                enable_rfc6764=False,
            )
        return self._dav

    def _calendar(self, calendar_url: str) -> caldav.Calendar:
        return self._client().calendar(url=calendar_url)

    def _sync_report(self, calendar: caldav.Calendar, token: str | None) -> Any | None:
        try:
            return calendar.get_objects_by_sync_token(sync_token=token, load_objects=False, disable_fallback=True)
        except error.DAVError as exc:
            if _sync_refused(exc):
                return None
            raise

    def _sync_result(self, calendar: caldav.Calendar, report: Any, *, full: bool) -> SyncResult:
        deleted = {_href(url) for url in report.deleted_urls}
        urls = [obj.url for obj in report if _href(obj.url) not in deleted]
        changed = self._fetch(calendar, urls)
        # A resource deleted between the REPORT and the multiget is gone too.
        vanished = {_href(url) for url in urls} - changed.keys()
        token = str(report.sync_token) if report.sync_token else None
        return SyncResult(token, changed, set() if full else deleted | vanished, full)

    def _listing(self, calendar: caldav.Calendar) -> SyncResult:
        hrefs = list(self._etags(calendar))
        changed = self._fetch(calendar, [calendar.url.join(h) for h in hrefs])
        return SyncResult(None, changed, set(), True)

    def _etags(self, calendar: caldav.Calendar) -> dict[str, str]:
        response = calendar.get_properties([dav.GetEtag()], depth=1, parse_response_xml=False)
        own = _href(calendar.url).rstrip("/")
        return {
            href: props[dav.GetEtag.tag]
            for href, props in response.expand_simple_props([dav.GetEtag()]).items()
            if _href(href).rstrip("/") != own and props.get(dav.GetEtag.tag)
        }

    def _fetch(self, calendar: caldav.Calendar, urls: list[Any]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(urls), MULTIGET_BATCH):
            for obj in calendar.multiget(urls[start : start + MULTIGET_BATCH]):
                raw = obj.raw_data
                if raw:
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    found[_href(obj.url)] = (str(obj.props.get(dav.GetEtag.tag, "")), text)
        return found

    def _put(self, calendar: caldav.Calendar, url: Any, ics_text: str, etag: str | None) -> str | None:
        props = {dav.GetEtag.tag: etag} if etag else {}
        event = caldav.Event(self._client(), url=url, data=ics_text, parent=calendar, props=props)
        # raw_data: sent byte for byte, so caldav neither bumps SEQUENCE nor rewrites the text.
        event.save(increase_seqno=False, raw_data=ics_text.encode("utf-8"), precondition="etag")
        return event.etag

    def _delete(self, url: Any) -> bool:
        response = self._client().delete(str(url))
        if response.status == 404:
            return False
        if response.status >= 400:
            raise error.error_from_response(error.DeleteError, response)
        return True

    @contextmanager
    def _errors(self, not_found: str) -> Iterator[None]:
        try:
            yield
        except CalDAVError:
            raise
        except (error.DAVError, niquests.exceptions.RequestException, etree.LxmlError) as exc:
            raise _translate(exc, not_found=not_found, timeout=self.timeout) from exc


def _translate(
    exc: error.DAVError | niquests.exceptions.RequestException | etree.LxmlError, *, not_found: str, timeout: float
) -> CalDAVError:
    if isinstance(exc, niquests.exceptions.SSLError):
        if _caused_by(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return CalDAVError(f"TLS certificate problem: {_root_reason(exc)}", permanent=True, kind="tls")
        return CalDAVError(f"TLS connection failed: {_root_reason(exc)}", permanent=True, kind="tls")
    if isinstance(exc, niquests.exceptions.Timeout):
        return CalDAVError(f"timed out after {timeout:g} s", permanent=False, kind="timeout")
    if isinstance(exc, niquests.exceptions.ConnectionError):
        return CalDAVError(f"cannot connect to the server: {_root_reason(exc)}", permanent=False, kind="unreachable")
    if isinstance(exc, niquests.exceptions.RequestException):
        return CalDAVError(f"{NO_SERVER}: {exc}", permanent=True, kind="not_found")
    if isinstance(exc, etree.LxmlError):
        return CalDAVError(f"the server's answer is not WebDAV XML: {exc}", permanent=True, kind="protocol")
    return _translate_dav(exc, not_found=not_found)


def _translate_dav(exc: error.DAVError, *, not_found: str) -> CalDAVError:
    status = exc.status
    if isinstance(exc, error.ETagMismatchError):
        return CalDAVConflict("the event changed on the server since it was last read")
    if isinstance(exc, error.AuthorizationError) or status == 401:
        message = "wrong username or app password" if status != 403 else "the server refused access (403)"
        return CalDAVError(message, permanent=True, kind="auth")
    if isinstance(exc, error.NotFoundError) or status in (404, 405, 501):
        # 405 and 501: a web server that does not know PROPFIND, so not a CalDAV server.
        return CalDAVError(not_found, permanent=True, kind="not_found")
    transient = status is None or status >= 500 or status == 429 or isinstance(exc, error.RateLimitError)
    return CalDAVError(
        f"the CalDAV server answered: {exc.reason.splitlines()[0]}", permanent=not transient, kind="protocol"
    )


def _sync_refused(exc: error.DAVError) -> bool:
    """An expired token (RFC 6578 section 3.2: DAV:valid-sync-token) or a server without sync-collection."""
    if dav.ValidSyncToken.tag in exc.preconditions or dav.SupportedReport.tag in exc.preconditions:
        return True
    if isinstance(exc, error.AuthorizationError | error.NotFoundError):
        return False
    return exc.status is None or exc.status in SYNC_REFUSED


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _root_reason(exc: BaseException) -> str:
    root = exc
    while (cause := root.__cause__ or root.__context__) is not None:
        root = cause
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    return str(root) or type(root).__name__


def _href(url: Any) -> str:
    return unquote(urlsplit(str(url)).path)


def _last_segment(url: str) -> str:
    return _href(url).rstrip("/").rsplit("/", 1)[-1]


def _resource_name(uid: str) -> str:
    # Our UIDs are plain; anything else gets a stable hashed name, so no server's quoting rules matter.
    name = uid if SAFE_NAME.fullmatch(uid) else hashlib.sha256(uid.encode("utf-8")).hexdigest()[:40]
    return name + ".ics"


def event_href(calendar_url: str, uid: str) -> str:
    """The name ``put_event`` gives the event with this UID in this calendar (the server's own, unquoted path)."""
    return _href(calendar_url).rstrip("/") + "/" + _resource_name(uid)
