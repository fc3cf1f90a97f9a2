"""Email. SMTP when EMAIL_HOST is set; otherwise messages are kept in a local folder the demo can show."""

from __future__ import annotations

from pathlib import Path

from config.env import env_bool, env_int, env_str

_BASE_DIR = Path(__file__).resolve().parent.parent.parent

EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "scheduling@mediation.example.org")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(_BASE_DIR / "var" / "outbox")
# Shared secret that inbound-mail services send (Authorization: Bearer …) with calendar replies.
INBOUND_EMAIL_SECRET = env_str("INBOUND_EMAIL_SECRET", "")
