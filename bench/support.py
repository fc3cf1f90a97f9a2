"""What the benchmarks share: scratch PostgreSQL databases, Django set-up, percentiles and table rows.

Not a benchmark itself (bench/run.py runs the bench_*.py modules only).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The machine's PostgreSQL (trust auth). Override with BENCH_POSTGRES_URL=postgres://user@host:port
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")


def database_url(name: str) -> str:
    return f"{SERVER_URL}/{name}"


def _admin_connection() -> object:
    import psycopg

    return psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True)


def database_drop(name: str) -> None:
    with _admin_connection() as conn:  # type: ignore[attr-defined]
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_create(name: str) -> None:
    database_drop(name)
    with _admin_connection() as conn:  # type: ignore[attr-defined]
        conn.execute(f'CREATE DATABASE "{name}"')


def server_version() -> str:
    with _admin_connection() as conn:  # type: ignore[attr-defined]
        return str(conn.execute("SHOW server_version").fetchone()[0])


def service_env(db_name: str, **extra: str) -> dict[str, str]:
    """The environment of a service process (gunicorn, a Celery worker, manage.py) on the scratch database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.django.local",
        "DJANGO_DEBUG": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url(db_name),
        "CELERY_BROKER_URL": "",
        "SMS_QUIET_HOURS": "",
        **extra,
    }


def migrate(db_name: str) -> None:
    """`manage.py migrate` on the scratch database, as a deployment would run it."""
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=service_env(db_name),
        check=True,
    )


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A fresh, migrated database, dropped afterwards (whatever happens). Yields its URL."""
    database_create(name)
    try:
        migrate(name)
        yield database_url(name)
    finally:
        close_django_connections()
        database_drop(name)


def django_setup(db_name: str, **env: str) -> None:
    """Configure Django in this process on the scratch database (once per process)."""
    os.environ.update(service_env(db_name, **env))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
    """Stop one process that this benchmark started: SIGTERM, then SIGKILL if it does not go."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def row(
    metric: str, value: object, target: str = "", met: bool | None = None, baseline: object = "", ratio: str = ""
) -> dict[str, object]:
    return {"metric": metric, "value": str(value), "target": target, "met": met, "baseline": str(baseline),
            "ratio": ratio}  # fmt: skip


def as_markdown(result: dict[str, object]) -> str:
    lines = [f"### {result['title']}", "", f"`{result['command']}`", ""]
    lines.append("| metric | value | target | met | baseline | ratio |")
    lines.append("|---|---|---|---|---|---|")
    for r in result["rows"]:  # type: ignore[attr-defined]
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['metric']} | {r['value']} | {r['target']} | {met} | {r['baseline']} | {r['ratio']} |")
    lines.append("")
    lines.extend(f"- {note}" for note in result["notes"])  # type: ignore[attr-defined]
    return "\n".join(lines)
