"""Email through Django's mail API: one recipient a message, text and HTML, and an optional calendar invitation.

Templates live in notifications/templates/notifications/<kind>-subject.txt, <kind>-body.txt and <kind>-body.html.
Their context: ``link`` (the recipient's own page), ``start``/``end``/``previous_start``/``respond_by`` (aware
datetimes, shown in ``tz``, default DISPLAY_TIME_ZONE), ``place`` (None: online), ``recipient_name`` (optional
greeting), ``service_name`` (the sender), and for coordinator alerts ``case_reference`` and ``problem``.
They never print anything else, so a child's name or a case detail passed in by mistake goes nowhere.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Mapping
from email.utils import formataddr, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from notifications.transports.base import SendResult, TransportError

KINDS = (
    "offer", "offer_expiring", "invitation", "update", "cancellation", "reminder", "certificate", "coordinator_alert",
    "feedback",
)  # fmt: skip
CALENDAR_METHODS = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
_ONE_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


def render_email(kind: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) for ``kind``, with dates in the recipient's time zone."""
    if kind not in KINDS:
        raise ValueError(f"Unknown email kind {kind!r}; expected one of {KINDS}")
    tz = context.get("tz") or getattr(settings, "DISPLAY_TIME_ZONE", "Europe/London")
    with timezone.override(ZoneInfo(tz)), translation.override("en-gb"):
        subject, text, html = (
            render_to_string(f"notifications/{kind}-{part}", dict(context))
            for part in ("subject.txt", "body.txt", "body.html")
        )
    return " ".join(subject.split()), re.sub(r"\n{3,}", "\n\n", text).strip() + "\n", html


def send_email(
    *, to: str, subject: str, text: str, html: str, from_email: str, from_name: str | None = None,
    calendar: bytes | None = None, calendar_method: str | None = None, headers: dict[str, str] | None = None,
) -> SendResult:  # fmt: skip
    """Send one message to one address; returns its Message-ID as ``provider_id``."""
    if not isinstance(to, str):
        raise TypeError("send_email sends to exactly one address: pass a str, not a list")
    if not _ONE_ADDRESS.match(to.strip()):
        raise TransportError(f"Not a single email address: {to!r}", permanent=True, code="address")
    extra = dict(headers or {})
    # Our own id: Django would otherwise look up the host's FQDN, which can stall for seconds on some machines.
    message_id = extra.setdefault("Message-ID", make_msgid(domain=from_email.rpartition("@")[2] or "localhost"))
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()), body=text, to=[to.strip()], headers=extra,
        from_email=formataddr((from_name, from_email)) if from_name else from_email,
    )  # fmt: skip
    message.attach_alternative(html, "text/html")
    if calendar is not None:
        method = (calendar_method or "").upper()
        if method not in CALENDAR_METHODS:
            raise ValueError(f"calendar_method must be one of {sorted(CALENDAR_METHODS)}, not {calendar_method!r}")
        # Django adds charset="utf-8" itself; naming it here too would give the header a stray parameter.
        message.attach_alternative(calendar.decode("utf-8"), f"text/calendar; method={method}")
        message.attach("invite.ics", calendar, "application/ics")
    try:
        message.send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as exc:
        raise _classify(exc) from exc
    return SendResult(provider_id=message_id, status="sent")


def _classify(exc: smtplib.SMTPException | OSError) -> TransportError:
    """4xx replies and lost connections may pass if retried later; 5xx replies will not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return TransportError(f"Recipient refused: {code} {_text(reply)}", permanent=code >= 500, code=str(code))
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return TransportError(f"SMTP connection lost: {exc}", permanent=False, code="connection")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return TransportError(f"SMTP answered {code} {_text(exc.smtp_error)}", permanent=code >= 500, code=str(code))
    if isinstance(exc, TimeoutError):
        return TransportError(f"SMTP server did not answer in time: {exc}", permanent=False, code="timeout")
    return TransportError(f"Could not reach the SMTP server: {exc!r}", permanent=False, code="connection")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
