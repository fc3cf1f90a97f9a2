"""Settings shared by every environment. Values from outside come only through config.env."""

from __future__ import annotations

from pathlib import Path

from config.env import ImproperlyConfiguredError, env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# A throwaway key for the embedded default only; production.py insists on DJANGO_SECRET_KEY.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-embedded-default-key-not-for-production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "core",
    "scheduling",
    "booking",
    "notifications",
    "web",
]

MIDDLEWARE = [
    # First, so every response carries the policy, including those other middleware make (core/security.py).
    "core.security.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.NulBytesRefusedMiddleware",
    # Static files from the app itself (compressed, cached for a year under hashed names in production).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.NotStoredMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.security.SignInThrottleMiddleware",
    "booking.audit.AuditMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.middleware.MembershipsRememberedMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context.staff_menu",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(env_str("DATABASE_URL", "sqlite:///db.sqlite3"), base_dir=BASE_DIR),
}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
# A kept connection is checked once at the start of each request, so one the server dropped while idle (a restart,
# a failover) is replaced instead of failing that request (tests/faults/test_database_faults.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A statement a kept connection runs again and again (each request's token and case reads, a booking's inserts) is
    # prepared on it after five runs, so PostgreSQL parses and plans it once (bench/bench_booking_race.py: a booking's
    # database CPU halved). psycopg prepares only with server-side parameter binding. Turn it off behind a pooler
    # that cannot keep prepared statements (PgBouncer in transaction mode without max_prepared_statements).
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": 5 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
        **DATABASES["default"]["OPTIONS"],  # type: ignore[dict-item]
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
USE_I18N = True
# Everything is stored and computed in UTC; people see times in their own zone (default DISPLAY_TIME_ZONE).
TIME_ZONE = "UTC"
USE_TZ = True
DISPLAY_TIME_ZONE = "Europe/London"

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))

LOGIN_URL = "/sign-in/"

# --- Security (core/security.py; README "Security") ---
# Every password check (sign-in page, API token, admin sign-in and password change) is counted: at most this many
# failures per account and per client address in the window; beyond that, checks are refused (429) until failures
# leave the window. Only the throttled backend is listed: Django's ModelBackend after it would check every refused or
# failed password a second time, uncounted (README "Security": deploying this signed staff out once).
AUTHENTICATION_BACKENDS = ["core.security.ThrottledModelBackend"]
SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT = env_int("DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT", 10)
# Staff behind one shared public address (an office gateway) share this count; such a deployment may raise it.
SIGN_IN_FAILURE_LIMIT_PER_ADDRESS = env_int("DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ADDRESS", 10)
SIGN_IN_FAILURE_WINDOW_MINUTES = env_int("DJANGO_SIGN_IN_FAILURE_WINDOW_MINUTES", 15)
for _name, _value in [
    ("DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT", SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT),
    ("DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ADDRESS", SIGN_IN_FAILURE_LIMIT_PER_ADDRESS),
    ("DJANGO_SIGN_IN_FAILURE_WINDOW_MINUTES", SIGN_IN_FAILURE_WINDOW_MINUTES),
]:
    if _value < 1:
        raise ImproperlyConfiguredError(f"{_name} must be 1 or more; got {_value}.")
# How many reverse proxies in front of the service append to X-Forwarded-For. 0: the client is REMOTE_ADDR and the
# header is ignored (a client can write anything in it). Used by the sign-in throttle and DRF's throttles alike.
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfiguredError("DJANGO_TRUSTED_PROXY_COUNT must be 0 or more.")
# Staff are signed out after 30 minutes without a request; each request moves the expiry on. In every mode, so the
# rule is the one people meet in development and tests too.
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
# Scripts, styles and images from this service only; nothing inline, no plugins, no framing, forms post only here.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous caller gets 401 with a WWW-Authenticate header rather than 403.
        "core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles identify callers as the sign-in throttle does (DRF's default believes any X-Forwarded-For).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SEND mediation booking API",
    "DESCRIPTION": "Cases, statutory deadlines, participants, mediators and venues for SEND mediation in England.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}

# How long a family has to choose from offered slots (working days); the slots are held until then.
OFFER_EXPIRY_WORKING_DAYS = env_int("OFFER_EXPIRY_WORKING_DAYS", 3)

from config.settings.caldav import *  # noqa: E402,F403
from config.settings.celery import *  # noqa: E402,F403
from config.settings.email import *  # noqa: E402,F403
from config.settings.twilio import *  # noqa: E402,F403
