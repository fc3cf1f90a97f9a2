"""The SMTP server or Twilio down while messages are due: retried with backoff, nothing lost, each sent once.

The dispatcher runs in this process (dispatch_due handing rows to message_send, as the embedded default does) against
the real SMTP server (aiosmtpd) and the real twilio client with a local endpoint. "Down" is nothing listening: the
connection is refused. Time moves by the `now` given to the dispatcher, so the backoff is real but nobody waits for it.
"""

from __future__ import annotations

import collections
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from notifications.dispatch import dispatch_due
from notifications.models import Message
from notifications.sending import message_send
from tests.notifications.test_outbox import NOW, _booked, servers  # noqa: F401
from tests.servers.smtp import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limit(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SMS rate limiter counts real seconds and these tests make many attempts in one: not under test here."""
    settings.SMS_RATE_PER_SECOND = 1000
    monkeypatch.setattr("notifications.sending._limiter", None)


def dispatch(now: datetime) -> collections.Counter[str]:
    """One pass of the dispatcher: every due row handed to the sender. Returns what happened to them."""
    outcomes: collections.Counter[str] = collections.Counter()
    dispatch_due(now=now, send=lambda pk: outcomes.update([message_send(pk, now=now)]))
    return outcomes


def due_now(now: datetime) -> list[Message]:
    return list(Message.objects.filter(status="pending", due_at__lte=now))


def waiting(channel: str) -> list[Message]:
    return list(Message.objects.filter(channel=channel, status="pending", due_at__lte=NOW + timedelta(days=1)))


def assert_backing_off(rows: list[Message], *, attempts: int, since: datetime) -> None:
    """Each row waits for its next try: 30 s x 2^(attempts-1), half of it random jitter."""
    ceiling = 30 * 2 ** (attempts - 1)
    for row in rows:
        assert row.attempts == attempts, row
        assert since + timedelta(seconds=ceiling / 2) <= row.due_at <= since + timedelta(seconds=ceiling), row
        assert row.last_error and row.lease_until is None


def test_with_smtp_down_emails_wait_with_backoff_and_each_arrives_once_when_it_is_back(servers: Any) -> None:  # noqa: F811
    smtp, twilio = servers
    _booked()
    _booked()
    emails = {m.pk: m.to for m in waiting("email")}
    assert len(emails) == 6
    smtp.stop()

    assert dispatch(NOW) == {"retry": 6, "sent": 2}  # the SMS are not held up by the mail outage
    assert_backing_off(waiting("email"), attempts=1, since=NOW)
    assert "connect" in waiting("email")[0].last_error.lower()
    assert dispatch(NOW + timedelta(seconds=14)) == {}  # not due again yet
    second = max(m.due_at for m in waiting("email"))
    assert dispatch(second) == {"retry": 6}
    assert_backing_off(waiting("email"), attempts=2, since=second)

    smtp.start()
    third = max(m.due_at for m in waiting("email"))
    assert dispatch(third) == {"sent": 6}
    assert dispatch(third + timedelta(hours=1)) == {}
    assert sorted(r for item in smtp.received for r in item.rcpt_tos) == sorted(emails.values())
    assert set(Message.objects.filter(pk__in=emails).values_list("status", "attempts")) == {("sent", 3)}
    assert len(twilio.created) == 2


def test_with_twilio_unreachable_sms_wait_with_backoff_and_each_goes_once_when_it_is_back(
    servers: Any,  # noqa: F811
    settings: Any,
) -> None:
    smtp, twilio = servers
    _booked()
    _booked()
    sms = {m.pk: m.callback_token for m in waiting("sms")}
    assert len(sms) == 2
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    assert dispatch(NOW) == {"retry": 2, "sent": 6}  # the emails are not held up
    assert_backing_off(waiting("sms"), attempts=1, since=NOW)
    second = max(m.due_at for m in waiting("sms"))
    assert dispatch(second) == {"retry": 2}
    assert_backing_off(waiting("sms"), attempts=2, since=second)

    settings.TWILIO_API_BASE_URL = twilio.url
    third = max(m.due_at for m in waiting("sms"))
    assert dispatch(third) == {"sent": 2}
    assert dispatch(third + timedelta(hours=1)) == {}
    callbacks = [parse_qs(urlsplit(r.form["StatusCallback"]).query)["m"][0] for r in twilio.created]
    assert sorted(callbacks) == sorted(sms.values())  # each SMS once, none twice
    assert len(smtp.received) == 6


def test_an_outage_longer_than_every_retry_fails_the_message_and_tells_the_coordinator(
    servers: Any,  # noqa: F811
    settings: Any,
) -> None:
    smtp, twilio = servers
    meeting = _booked()
    Message.objects.filter(channel="email").update(status="cancelled")
    [sms] = waiting("sms")
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"

    now = NOW
    for _ in range(sms.max_attempts - 1):
        assert dispatch(now) == {"retry": 1}
        now = Message.objects.get(pk=sms.pk).due_at
    assert dispatch(now) == {"failed": 1}

    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == ("failed", sms.max_attempts)
    alert = Message.objects.get(kind="coordinator_alert", case=meeting.case)
    assert alert.to == "scheduling@provider.example.org" and alert.status == "pending"
    assert dispatch(now) == {"sent": 1}  # the alert goes by email, which works
    assert [item.rcpt_tos for item in smtp.received] == [["scheduling@provider.example.org"]]
    assert twilio.created == []
