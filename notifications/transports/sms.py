"""SMS through Twilio's Messages API, a dry-run channel when no account is set, and a per-sender rate limit."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from notifications.transports.base import RateLimiter as RateLimiter  # part of this module's API
from notifications.transports.base import SendResult, TransportError

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DEFAULT_TIMEOUT = 10.0
# No retry fixes these: 21610 the recipient replied STOP, 21211 an invalid number, 21614 not a mobile number.
PERMANENT_CODES = frozenset({21610, 21211, 21614})
_NO_BREAK_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " "})


def sms_enabled() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID)


def sms_sender() -> str:
    """What the rate limit counts against: the Messaging Service when one is set, else the From number."""
    return settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER or "dry-run"


def send_sms(*, to: str, body: str, status_callback: str | None) -> SendResult:
    if not E164.match(to):
        # Twilio's own code for a bad To number, so callers treat a number refused here or there alike.
        raise TransportError(f"Not an E.164 phone number: {to!r}", permanent=True, code="21211")
    body = body.translate(_NO_BREAK_SPACES)
    if not sms_enabled():
        return dry_run_channel.send(to=to, body=body, status_callback=status_callback)
    kwargs: dict[str, Any] = {"to": to, "body": body, **_sender_kwargs()}
    if status_callback:
        kwargs["status_callback"] = status_callback
    try:
        message = _client().messages.create(**kwargs)
    except (TwilioRestException, TwilioServiceException) as exc:
        raise _classify(exc) from exc
    except requests.Timeout as exc:
        raise TransportError(f"Twilio did not answer in time: {exc}", permanent=False, code="timeout") from exc
    except requests.RequestException as exc:
        raise TransportError(f"Could not reach Twilio: {exc}", permanent=False, code="connection") from exc
    except TwilioException as exc:
        raise TransportError(f"Twilio client error: {exc}", permanent=True, code="client") from exc
    return SendResult(provider_id=str(message.sid), status=str(message.status))


def validate_twilio_request(
    url: str, params: Mapping[str, Any], signature: str, *, algorithm: str | None = None
) -> bool:
    """True when ``signature`` (the X-Twilio-Signature header) signs ``url`` + ``params`` with our auth token."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature, algorithm=algorithm))


def _sender_kwargs() -> dict[str, str]:
    if settings.TWILIO_MESSAGING_SERVICE_SID:
        return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
    if settings.TWILIO_FROM_NUMBER:
        return {"from_": settings.TWILIO_FROM_NUMBER}
    raise TransportError("Set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID", permanent=True, code="config")


def _client() -> Client:
    if not settings.TWILIO_AUTH_TOKEN:
        raise TransportError("TWILIO_AUTH_TOKEN is not set", permanent=True, code="config")
    timeout = float(getattr(settings, "TWILIO_TIMEOUT", DEFAULT_TIMEOUT))
    return _cached_client(
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL, timeout
    )


@lru_cache(maxsize=4)
def _cached_client(sid: str, token: str, base_url: str, timeout: float) -> Client:
    """One client, and so one pooled HTTP session, per configuration."""
    http = _RebasedHttpClient(base_url, timeout=timeout) if base_url else TwilioHttpClient(timeout=timeout)
    return Client(sid, token, http_client=http)


class _RebasedHttpClient(TwilioHttpClient):
    """Sends every call to ``base_url`` (a local fake), after TWILIO_EDGE/TWILIO_REGION have rewritten the host."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return super().request(method, f"{self.base_url}{parts.path}{query}", *args, **kwargs)


def _classify(exc: TwilioRestException | TwilioServiceException) -> TransportError:
    status, code = int(exc.status), exc.code
    detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    message = f"Twilio answered HTTP {status}, code {code}: {detail}"
    if code in PERMANENT_CODES:
        return TransportError(message, permanent=True, code=str(code))
    return TransportError(message, permanent=not (status == 429 or status >= 500), code=str(code or status))


class DryRunRecord(TypedDict):
    id: str
    to: str
    body: str
    status_callback: str | None
    at: str


class DryRunSmsChannel:
    """Records SMS instead of sending them: in ``messages`` and as JSON lines in var/sms-dry-run.jsonl."""

    def __init__(self) -> None:
        self.messages: list[DryRunRecord] = []
        self._lock = threading.Lock()

    def send(self, *, to: str, body: str, status_callback: str | None) -> SendResult:
        record = DryRunRecord(
            id=f"dry-run-{uuid.uuid4()}", to=to, body=body, status_callback=status_callback,
            at=datetime.now(UTC).isoformat(),
        )  # fmt: skip
        path = Path(settings.BASE_DIR) / "var" / "sms-dry-run.jsonl"
        with self._lock:
            self.messages.append(record)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
        return SendResult(provider_id=record["id"], status="sent")


dry_run_channel = DryRunSmsChannel()
