"""The SMS transport with the real twilio client against a local fake Twilio, and the rate limiter on real Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.http import QueryDict

from notifications.transports import sms
from notifications.transports.base import TransportError
from notifications.transports.sms import RateLimiter, send_sms, sms_enabled, sms_sender, validate_twilio_request
from tests.servers.smtp import free_port
from tests.servers.twilio_fake import TwilioFake, twilio_fake  # noqa: F401

SID = "AC" + "a" * 32
TOKEN = "test-auth-token-0123456789"
FROM = "+447700900123"
TO = "+447911123456"
CALLBACK = "https://mediation.example.org/webhooks/twilio/status/?n=Zq3xR8"
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def twilio(settings: Any, twilio_fake: TwilioFake) -> TwilioFake:  # noqa: F811
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM_NUMBER = FROM
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = twilio_fake.url
    settings.TWILIO_TIMEOUT = 0.5
    return twilio_fake


def test_it_creates_a_message_through_the_messages_api(twilio: TwilioFake) -> None:
    result = send_sms(to=TO, body="Mediation meeting booked", status_callback=CALLBACK)

    assert result.provider_id.startswith("SM") and result.status == "queued"
    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.form == {"To": TO, "From": FROM, "Body": "Mediation meeting booked", "StatusCallback": CALLBACK}
    assert request.auth == (SID, TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_it_uses_the_messaging_service_when_one_is_set(twilio: TwilioFake, settings: Any) -> None:
    assert sms_sender() == FROM
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "b" * 32
    assert sms_sender() == "MG" + "b" * 32

    result = send_sms(to=TO, body="Hello", status_callback=None)

    assert result.status == "accepted"
    assert twilio.requests[0].form == {"To": TO, "MessagingServiceSid": "MG" + "b" * 32, "Body": "Hello"}


def test_it_strips_non_breaking_spaces(twilio: TwilioFake) -> None:
    send_sms(to=TO, body="Tue\u00a014\u202fApr, 10:00", status_callback=None)

    assert twilio.requests[0].form["Body"] == "Tue 14 Apr, 10:00"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_throttling_are_transient(twilio: TwilioFake, status: int) -> None:
    twilio.fail_next(status=status)

    with pytest.raises(TransportError) as caught:
        send_sms(to=TO, body="Hello", status_callback=None)

    assert caught.value.permanent is False
    assert send_sms(to=TO, body="Hello", status_callback=None).status == "queued"  # the retry goes through
    assert len(twilio.messages) == 2


@pytest.mark.parametrize("code", [21610, 21211, 21614])
def test_unsubscribed_invalid_and_landline_numbers_are_permanent(twilio: TwilioFake, code: int) -> None:
    twilio.reject_next(code=code)

    with pytest.raises(TransportError) as caught:
        send_sms(to=TO, body="Hello", status_callback=None)

    assert (caught.value.permanent, caught.value.code) == (True, str(code))


@pytest.mark.parametrize(("status", "code"), [(400, 21602), (401, 20003), (404, 20404)])
def test_other_client_errors_are_permanent(twilio: TwilioFake, status: int, code: int) -> None:
    twilio.reject_next(code=code, status=status)

    with pytest.raises(TransportError) as caught:
        send_sms(to=TO, body="Hello", status_callback=None)

    assert (caught.value.permanent, caught.value.code) == (True, str(code))


def test_a_hung_request_times_out_as_transient(twilio: TwilioFake, settings: Any) -> None:
    settings.TWILIO_TIMEOUT = 0.2
    twilio.hang_next()
    started = time.monotonic()

    with pytest.raises(TransportError) as caught:
        send_sms(to=TO, body="Hello", status_callback=None)

    assert (caught.value.permanent, caught.value.code) == (False, "timeout")
    assert time.monotonic() - started < 2
    assert len(twilio.messages) == 1  # the request did arrive: only the answer was missing


def test_an_unreachable_twilio_is_transient(twilio: TwilioFake, settings: Any) -> None:
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(TransportError) as caught:
        send_sms(to=TO, body="Hello", status_callback=None)

    assert (caught.value.permanent, caught.value.code) == (False, "connection")


def test_it_refuses_a_number_not_in_e164_without_calling_twilio(twilio: TwilioFake) -> None:
    with pytest.raises(TransportError) as caught:
        send_sms(to="07911 123456", body="Hello", status_callback=None)

    assert (caught.value.permanent, caught.value.code) == (True, "21211")
    assert twilio.requests == []


def test_a_missing_sender_is_a_clear_permanent_error(twilio: TwilioFake, settings: Any) -> None:
    settings.TWILIO_FROM_NUMBER = ""

    with pytest.raises(TransportError, match="TWILIO_FROM_NUMBER") as caught:
        send_sms(to=TO, body="Hello", status_callback=None)

    assert caught.value.permanent is True


def test_without_an_account_sid_messages_are_recorded_not_sent(
    settings: Any,
    tmp_path: Path,
    twilio_fake: TwilioFake,  # noqa: F811
) -> None:
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_API_BASE_URL = twilio_fake.url
    settings.BASE_DIR = tmp_path
    before = len(sms.dry_run_channel.messages)

    result = send_sms(to=TO, body="Reminder:\u00a0mediation meeting", status_callback=CALLBACK)

    assert sms_enabled() is False
    assert result.provider_id.startswith("dry-run-") and len(result.provider_id) == len("dry-run-") + 36
    [record] = sms.dry_run_channel.messages[before:]
    assert record["id"] == result.provider_id and record["to"] == TO and record["status_callback"] == CALLBACK
    assert record["body"] == "Reminder: mediation meeting"
    [line] = (tmp_path / "var" / "sms-dry-run.jsonl").read_text().splitlines()
    assert json.loads(line)["id"] == result.provider_id
    assert twilio_fake.requests == []


def _twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Computed the way Twilio documents it: HMAC-SHA1 over the URL followed by each sorted name and value."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


WEBHOOK_URL = "https://mediation.example.org/webhooks/twilio/status/?n=Zq3xR8"
WEBHOOK_PARAMS = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "To": TO, "AccountSid": SID}


@pytest.fixture
def signed(settings: Any) -> str:
    """The signature Twilio would send for WEBHOOK_URL and WEBHOOK_PARAMS, with our auth token configured."""
    settings.TWILIO_AUTH_TOKEN = TOKEN
    return _twilio_signature(TOKEN, WEBHOOK_URL, WEBHOOK_PARAMS)


def test_a_signed_request_validates(signed: str) -> None:
    assert validate_twilio_request(WEBHOOK_URL, WEBHOOK_PARAMS, signed)


def test_a_signed_form_validates_as_a_querydict(signed: str) -> None:
    form = QueryDict(mutable=True)
    form.update(WEBHOOK_PARAMS)

    assert validate_twilio_request(WEBHOOK_URL, form, signed)


def test_a_tampered_parameter_fails(signed: str) -> None:
    assert not validate_twilio_request(WEBHOOK_URL, {**WEBHOOK_PARAMS, "MessageStatus": "failed"}, signed)
    assert not validate_twilio_request(WEBHOOK_URL, {**WEBHOOK_PARAMS, "Extra": "1"}, signed)


def test_another_url_or_token_fails(signed: str, settings: Any) -> None:
    assert not validate_twilio_request(WEBHOOK_URL.replace("https", "http"), WEBHOOK_PARAMS, signed)
    assert not validate_twilio_request(WEBHOOK_URL.replace("Zq3xR8", "other"), WEBHOOK_PARAMS, signed)
    settings.TWILIO_AUTH_TOKEN = "another-token"
    assert not validate_twilio_request(WEBHOOK_URL, WEBHOOK_PARAMS, signed)


def test_a_missing_signature_or_token_fails(signed: str, settings: Any) -> None:
    assert not validate_twilio_request(WEBHOOK_URL, WEBHOOK_PARAMS, "")
    settings.TWILIO_AUTH_TOKEN = ""
    assert not validate_twilio_request(WEBHOOK_URL, WEBHOOK_PARAMS, _twilio_signature("", WEBHOOK_URL, WEBHOOK_PARAMS))


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"test-sms-rate-{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def test_in_process_it_allows_the_rate_then_says_how_long_to_wait() -> None:
    clock = FakeClock(1_000.25)
    limiter = RateLimiter(10, clock=clock)

    waits = [limiter.acquire(FROM) for _ in range(11)]

    assert waits[:10] == [0.0] * 10
    assert waits[10] == pytest.approx(0.75)
    assert limiter.acquire("+447700900999") == 0.0  # another sender has its own budget
    clock.now = 1_001.0
    assert limiter.acquire(FROM) == 0.0


def test_in_process_threads_share_one_budget() -> None:
    limiter = RateLimiter(10, clock=FakeClock(2_000.5))
    waits: list[float] = []
    lock = threading.Lock()

    def burst() -> None:
        for _ in range(10):
            wait = limiter.acquire(FROM)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert waits.count(0.0) == 10 and len(waits) == 40


def test_on_redis_two_limiters_share_one_budget(redis_prefix: str) -> None:
    clock = FakeClock(time.time())
    first, second = (RateLimiter(10, redis_url=REDIS_URL, prefix=redis_prefix, clock=clock) for _ in range(2))

    waits = [(first if i % 2 else second).acquire(FROM) for i in range(14)]

    assert waits.count(0.0) == 10
    assert all(0 < wait <= 1 for wait in waits[10:])
    key = f"{redis_prefix}:{FROM}:{int(clock.now)}"
    client = redis.Redis.from_url(REDIS_URL)
    assert int(client.get(key) or 0) == 14 and 0 < client.ttl(key) <= 2
    clock.now += 1
    assert first.acquire(FROM) == 0.0


def test_on_redis_the_window_is_the_clock_second(redis_prefix: str) -> None:
    limiter = RateLimiter(2, redis_url=REDIS_URL, prefix=redis_prefix)
    now = time.time()
    if now % 1 > 0.8:  # keep the three calls inside one real second
        time.sleep(1 - now % 1 + 0.01)

    assert [limiter.acquire(FROM) > 0 for _ in range(3)] == [False, False, True]


def test_when_redis_is_unreachable_it_lets_messages_through() -> None:
    limiter = RateLimiter(1, redis_url=f"redis://127.0.0.1:{free_port()}/15", clock=FakeClock(5.0))

    assert [limiter.acquire(FROM) for _ in range(3)] == [0.0, 0.0, 0.0]
