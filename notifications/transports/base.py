"""What every transport returns or raises, and the send-rate limit shared by them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)


class TransportError(Exception):
    """Sending failed. ``permanent`` means retrying the same message cannot succeed (bad address, opted out)."""

    def __init__(self, message: str, *, permanent: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code

    def __repr__(self) -> str:
        return f"TransportError({self.message!r}, permanent={self.permanent}, code={self.code!r})"


@dataclass(frozen=True)
class SendResult:
    """The provider's id for the message (Twilio SID, email Message-ID) and the status it reported on acceptance."""

    provider_id: str
    status: str


class RateLimiter:
    """At most ``rate_per_second`` sends per sender (a From number) in each clock second: a fixed-window counter.

    With ``redis_url`` the count lives in Redis, shared by every process and machine; otherwise in this process.
    ``acquire(sender)`` counts one send and returns 0.0 when it may go now, else the seconds until the next window.
    """

    def __init__(
        self, rate_per_second: int = 10, *, redis_url: str | None = None, prefix: str = "sms-rate",
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        if rate_per_second < 1:
            raise ValueError("rate_per_second must be at least 1")
        self.rate, self.prefix, self.clock = rate_per_second, prefix, clock
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1) if redis_url else None
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def acquire(self, sender: str) -> float:
        now = self.clock()
        window = int(now)
        if self._redis is None:
            count = self._count_local(sender, window)
        else:
            count = self._count_shared(self._redis, sender, window)
        return 0.0 if count <= self.rate else (window + 1) - now

    def _count_local(self, sender: str, window: int) -> int:
        with self._lock:
            for key in [key for key in self._counts if key[1] < window]:
                del self._counts[key]
            self._counts[(sender, window)] = count = self._counts.get((sender, window), 0) + 1
            return count

    def _count_shared(self, client: redis.Redis, sender: str, window: int) -> int:
        key = f"{self.prefix}:{sender}:{window}"
        try:
            count, _ = client.pipeline().incr(key).expire(key, 2).execute()
            return int(count)
        except redis.RedisError as exc:
            # A limiter outage must not stop messages; a resulting Twilio 429 is retried as a transient error.
            logger.warning("Rate limiter unavailable, sending anyway: %s", exc)
            return 0
