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
# The client address that the sign-in throttle and the rate limits count by depends on how many proxies are in front,
# and no default is right for every deployment: 0 behind a proxy puts every client in one count, too many lets a client
# choose its own address. So it must be said (0 is a valid answer). base.py reads it and refuses a negative number.
if env_str("DJANGO_TRUSTED_PROXY_COUNT", "").strip() == "":
    raise ImproperlyConfiguredError(
        "DJANGO_TRUSTED_PROXY_COUNT is required in production: the number of reverse proxies in front of the service "
        "that append to X-Forwarded-For (1 for one nginx with proxy_add_x_forwarded_for; 0 when clients connect "
        "directly or the proxy sets REMOTE_ADDR itself). See README, Security."
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# (Staff sessions end after 30 idle minutes in every mode: base.py.)

# One cache shared by every web process and machine, so DRF's throttles (family links, the token endpoint) count
# across gunicorn workers. Redis, by default the broker's; a Redis outage reads as an empty cache (core/cache.py),
# so it lifts those limits for a while rather than failing requests. The sign-in throttle counts in the database.
CACHES = {
    "default": {
        "BACKEND": "core.cache.FailOpenRedisCache",
        "LOCATION": env_str("CACHE_URL", CELERY_BROKER_URL),
        "KEY_PREFIX": "cache",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# Static files under content-hashed names, compressed, served by WhiteNoise with far-future caching;
# `manage.py collectstatic` writes them at deploy (a page naming a file it did not collect fails loudly).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
