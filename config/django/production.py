"""Production: PostgreSQL, Redis, SMTP, Twilio. Secrets have no default, so a missing one stops the start."""

from __future__ import annotations

from config.django.base import *  # noqa: F403
from config.env import ImproperlyConfiguredError, env_bool, env_int, env_str

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure"):
    raise ImproperlyConfiguredError("DJANGO_SECRET_KEY must be a random value of at least 50 characters.")
if not env_str("DATABASE_URL").startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfiguredError("Production runs on PostgreSQL: set DATABASE_URL=postgres://...")
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# Encrypts mediators' calendar app passwords at rest (a Fernet key; several, comma-separated, to rotate).
CALDAV_ENCRYPTION_KEY = env_str("CALDAV_ENCRYPTION_KEY")
CELERY_TASK_ALWAYS_EAGER = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
X_FRAME_OPTIONS = "DENY"
