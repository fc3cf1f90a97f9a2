"""Twilio SMS. Off (a dry-run channel records SMS) unless TWILIO_ACCOUNT_SID is set."""

from __future__ import annotations

from config.env import env_int, env_str

TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID", "")
# Only for tests and local fakes: where the twilio client sends its API calls.
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "")
# At most this many SMS a second from one sender (Twilio's long-code limit is lower than its short-code one).
SMS_RATE_PER_SECOND = env_int("SMS_RATE_PER_SECOND", 10)
TWILIO_TIMEOUT = 10.0
# No SMS in these hours (Europe/London); one due then waits until the end. Empty: no quiet hours.
SMS_QUIET_HOURS = env_str("SMS_QUIET_HOURS", "20:00-08:00")
