"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import ImproperlyConfiguredError, env_bool, env_int, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_database_urls_are_parsed(tmp_path: Path) -> None:
    sqlite = parse_database_url("sqlite:///db.sqlite3", base_dir=tmp_path)
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert sqlite["NAME"] == str(tmp_path / "db.sqlite3")
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert parse_database_url("sqlite:////var/x.db", base_dir=tmp_path)["NAME"] == "/var/x.db"
    pg = parse_database_url("postgres://app:s%40cret@db.internal:5433/booking?sslmode=require", base_dir=tmp_path)
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "booking",
        "app",
        "s@cret",
        "db.internal",
        "5433",
    )
    assert pg["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ImproperlyConfiguredError):
        parse_database_url("mysql://x/y", base_dir=tmp_path)


def test_booleans_and_numbers_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfiguredError):
        env_bool("X_FLAG", False)
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfiguredError):
        env_int("X_NUM", 1)


def test_secrets_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from config.env import env_str

    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env_str("X_SECRET") == "from-a-file"


def _manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "EMAIL_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.django.production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-0123456789",
    "DATABASE_URL": "postgres://app@127.0.0.1:5432/app",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "DJANGO_ALLOWED_HOSTS": "mediation.example.org",
    "EMAIL_HOST": "smtp.example.org",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "CALDAV_ENCRYPTION_KEY": "d-0UHWzGQc7QEM5b2lLMM8109PLZbSMzNEZJJB4-CNM=",
    "DJANGO_TRUSTED_PROXY_COUNT": "1",  # behind one TLS proxy
}


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CALDAV_ENCRYPTION_KEY", "DJANGO_TRUSTED_PROXY_COUNT"],
)
def test_production_refuses_to_start_without_its_secrets(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _manage(["check"], env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_a_weak_secret_key() -> None:
    result = _manage(["check"], {**PRODUCTION, "DJANGO_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "at least 50 characters" in result.stderr


def test_check_deploy_passes_with_production_settings() -> None:
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_time_zone_is_utc() -> None:
    from django.conf import settings

    assert settings.TIME_ZONE == "UTC"
    assert settings.USE_TZ is True
    assert settings.DISPLAY_TIME_ZONE == "Europe/London"


def test_check_deploy_warns_when_email_and_sms_are_not_configured() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in ("EMAIL_HOST", "TWILIO_ACCOUNT_SID")}
    result = _manage(["check", "--deploy"], env)
    assert "core.W001" in result.stderr and "core.W002" in result.stderr


def _production_settings(monkeypatch: pytest.MonkeyPatch, **extra: str) -> dict[str, object]:
    """config.django.production's values, read in this process from the given environment (never installed: the
    settings modules are run afresh, and the ones this test run uses are put back afterwards)."""
    import runpy

    for name in [n for n in os.environ if n.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_"))]:
        monkeypatch.delenv(name)
    for name, value in {**PRODUCTION, **extra}.items():
        monkeypatch.setenv(name, value)
    for module in [m for m in sys.modules if m.startswith(("config.django.", "config.settings."))]:
        monkeypatch.delitem(sys.modules, module)
    return runpy.run_module("config.django.production")


def test_production_cookies_are_secure_and_https_is_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _production_settings(monkeypatch)
    assert s["SESSION_COOKIE_SECURE"] is True and s["CSRF_COOKIE_SECURE"] is True
    assert s["SESSION_COOKIE_HTTPONLY"] is True
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SECURE_HSTS_SECONDS"] >= 31536000
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and s["SECURE_HSTS_PRELOAD"] is True
    assert s["SESSION_COOKIE_AGE"] == 30 * 60 and s["SESSION_SAVE_EVERY_REQUEST"] is True
    assert s["MIDDLEWARE"][0] == "core.security.ContentSecurityPolicyMiddleware"
    assert s["AUTHENTICATION_BACKENDS"] == ["core.security.ThrottledModelBackend"]


def test_production_throttles_share_one_redis_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.cache.backends.redis import RedisCache
    from django.utils.module_loading import import_string

    cache = _production_settings(monkeypatch)["CACHES"]["default"]  # type: ignore[index]
    assert issubclass(import_string(cache["BACKEND"]), RedisCache)
    assert cache["LOCATION"] == PRODUCTION["CELERY_BROKER_URL"]  # by default, the broker's Redis
    cache = _production_settings(monkeypatch, CACHE_URL="redis://cache.internal:6379/2")["CACHES"]["default"]  # type: ignore[index]
    assert cache["LOCATION"] == "redis://cache.internal:6379/2"


def test_idle_sessions_end_after_30_minutes_in_every_mode() -> None:
    import runpy

    from django.conf import settings

    local = runpy.run_module("config.django.local")
    for values in (local, {name: getattr(settings, name) for name in dir(settings)}):
        assert values["SESSION_COOKIE_AGE"] == 30 * 60
        assert values["SESSION_SAVE_EVERY_REQUEST"] is True


def test_the_number_of_trusted_proxies_reaches_drf_and_cannot_be_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _production_settings(monkeypatch, DJANGO_TRUSTED_PROXY_COUNT="1")
    assert s["TRUSTED_PROXY_COUNT"] == 1 and s["REST_FRAMEWORK"]["NUM_PROXIES"] == 1  # type: ignore[index]
    with pytest.raises(ImproperlyConfiguredError, match="DJANGO_TRUSTED_PROXY_COUNT"):
        _production_settings(monkeypatch, DJANGO_TRUSTED_PROXY_COUNT="-1")


def test_production_requires_the_number_of_trusted_proxies_and_0_is_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """No default fits every deployment (0 behind a proxy puts every client in one sign-in count), so it must be set;
    0 (no proxy, or one that sets REMOTE_ADDR) is a valid value. Elsewhere it defaults to 0."""
    s = _production_settings(monkeypatch, DJANGO_TRUSTED_PROXY_COUNT="0")
    assert s["TRUSTED_PROXY_COUNT"] == 0 and s["REST_FRAMEWORK"]["NUM_PROXIES"] == 0  # type: ignore[index]
    for unset in ("", "  "):
        with pytest.raises(ImproperlyConfiguredError, match="DJANGO_TRUSTED_PROXY_COUNT is required in production"):
            _production_settings(monkeypatch, DJANGO_TRUSTED_PROXY_COUNT=unset)
    monkeypatch.delenv("DJANGO_TRUSTED_PROXY_COUNT")
    import runpy

    with pytest.raises(ImproperlyConfiguredError, match="the number of reverse proxies in front of the service"):
        runpy.run_module("config.django.production")
    assert runpy.run_module("config.django.local")["TRUSTED_PROXY_COUNT"] == 0


def test_the_sign_in_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = _production_settings(monkeypatch)
    assert (
        s["SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT"],
        s["SIGN_IN_FAILURE_LIMIT_PER_ADDRESS"],
        s["SIGN_IN_FAILURE_WINDOW_MINUTES"],
    ) == (10, 10, 15)  # the limit: at most 10 failures per 15 minutes per account and per address
    s = _production_settings(
        monkeypatch,
        DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT="5",
        DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ADDRESS="50",  # staff behind one office gateway
        DJANGO_SIGN_IN_FAILURE_WINDOW_MINUTES="30",
    )
    assert (
        s["SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT"],
        s["SIGN_IN_FAILURE_LIMIT_PER_ADDRESS"],
        s["SIGN_IN_FAILURE_WINDOW_MINUTES"],
    ) == (5, 50, 30)
    for name in (
        "DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ACCOUNT",
        "DJANGO_SIGN_IN_FAILURE_LIMIT_PER_ADDRESS",
        "DJANGO_SIGN_IN_FAILURE_WINDOW_MINUTES",
    ):
        for bad in ("0", "ten"):
            with pytest.raises(ImproperlyConfiguredError, match=name):
                _production_settings(monkeypatch, **{name: bad})


def test_postgres_connections_prepare_their_repeated_statements_unless_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = _production_settings(monkeypatch, DATABASE_URL="postgres://app@db/app?sslmode=require")["DATABASES"]
    options = database["default"]["OPTIONS"]  # type: ignore[index]
    assert options == {"server_side_binding": True, "prepare_threshold": 5, "sslmode": "require"}
    database = _production_settings(monkeypatch, DATABASE_PREPARED_STATEMENTS="off")["DATABASES"]
    assert database["default"]["OPTIONS"]["prepare_threshold"] is None  # type: ignore[index]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_statement_run_again_and_again_is_prepared_on_the_connection() -> None:
    from django.db import connection

    from booking.models import Case

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ['%"booking_case"%'])
            return int(cursor.fetchone()[0])

    before = prepared()
    for pk in range(1, 8):
        Case.objects.filter(pk=pk).exists()
    assert prepared() == before + 1


def test_a_web_process_tunes_its_garbage_collector_once_its_app_is_loaded() -> None:
    """config/wsgi.py, which gunicorn loads in each web process: the loaded app is left out of collections, which run
    less often than Python's defaults (core.process)."""
    from core.process import GC_THRESHOLDS

    code = (
        "import gc, json; before = gc.get_threshold(); import config.wsgi;"
        " print(json.dumps([before, gc.get_threshold(), gc.get_freeze_count()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, after, frozen = json.loads(out.stdout)
    assert tuple(before) == (700, 10, 10) and tuple(after) == GC_THRESHOLDS
    assert frozen > 10_000  # the loaded app's objects


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi", "config.celery"])
def test_a_process_started_without_a_settings_module_gets_production_and_refuses_to_run_without_its_secrets(
    module: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "SECRET"))}
    code = f"import {module}; from django.conf import settings; print(settings.DEBUG)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "DJANGO_SECRET_KEY" in out.stderr, out.stdout + out.stderr
