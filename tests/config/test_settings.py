"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

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
}


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CALDAV_ENCRYPTION_KEY"])
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
