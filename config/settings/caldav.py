"""CalDAV calendars of mediators and staff: background sync of busy time, and our meetings written into them.

Always available (a calendar is connected by its owner, not configured here); these settings tune it. The app passwords
people give us are encrypted with CALDAV_ENCRYPTION_KEY (one Fernet key, or several separated by commas: the first
encrypts, all decrypt, so a key can be rotated). Without it a key is derived from SECRET_KEY so the embedded default
works; production.py must insist on it (``CALDAV_ENCRYPTION_KEY = env_str("CALDAV_ENCRYPTION_KEY")``).
"""

from __future__ import annotations

from config.env import env_bool, env_int, env_str

_PRODUCTION = env_str("DJANGO_SETTINGS_MODULE", "") == "config.django.production"

# Make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
CALDAV_ENCRYPTION_KEY = env_str("CALDAV_ENCRYPTION_KEY", "")
# User-entered server addresses on private or loopback networks (R30): fine on a laptop, refused in production.
CALDAV_ALLOW_PRIVATE_HOSTS = env_bool("CALDAV_ALLOW_PRIVATE_HOSTS", not _PRODUCTION)
# Every request to a calendar server; at most 10 s so a dead server never holds a worker long.
CALDAV_TIMEOUT_SECONDS = min(env_int("CALDAV_TIMEOUT_SECONDS", 10), 10)
CALDAV_SYNC_INTERVAL_MINUTES = env_int("CALDAV_SYNC_INTERVAL_MINUTES", 15)
# Busy time is imported this far ahead: the slot engine never looks further.
CALDAV_HORIZON_WEEKS = env_int("CALDAV_HORIZON_WEEKS", 26)
# A connection whose last good sync is older than this is flagged, and its owner's slots say so.
CALDAV_STALE_AFTER_MINUTES = env_int("CALDAV_STALE_AFTER_MINUTES", 120)
# Attempts per sync or push for transient errors, with backoff between them (seconds, doubled each time).
CALDAV_ATTEMPTS = env_int("CALDAV_ATTEMPTS", 3)
CALDAV_BACKOFF_SECONDS = env_int("CALDAV_BACKOFF_SECONDS", 1)
# The circuit breaker: after this many failed syncs in a row, no calls to that server for the cool-down.
CALDAV_BREAKER_FAILURES = env_int("CALDAV_BREAKER_FAILURES", 3)
CALDAV_BREAKER_COOLDOWN_MINUTES = env_int("CALDAV_BREAKER_COOLDOWN_MINUTES", 30)
