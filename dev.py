#!/usr/bin/env python3
"""Run the service or its tests on the embedded default, from a fresh clone, with only Python 3.11+.

python3 dev.py run    # virtual environment, packages, SQLite database, demo data; serves on 127.0.0.1:8000
python3 dev.py test   # the test suite (DATABASE_URL picks the database; SQLite by default)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".installed"


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (a friendly message on an old interpreter)
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        _say("Creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        _say("Installing the packages (first run only)")
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "-e", ".[test]"], check=True, cwd=ROOT)
        STAMP.write_text(wanted)


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], check=True, cwd=ROOT)


def run(extra: list[str]) -> int:
    ensure_environment()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.local")
    (ROOT / "var" / "outbox").mkdir(parents=True, exist_ok=True)
    _say("Preparing the database")
    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")
    address = extra[0] if extra else "127.0.0.1:8000"
    family_link = _demo_offer_link(address)
    print(
        f"""
The service is starting on http://{address}/

  API docs (interactive)  http://{address}/api/docs/
  OpenAPI schema          http://{address}/api/schema/
  Admin                   http://{address}/admin/

Demo logins (password for all: demo-password-1)
  coordinator        provider case manager (Harbour SEND Mediation)
  la.officer         SEND officer, West Downs County Council
  health.rep         health representative, NHS South Downs ICB
  mediator1          a mediator
  commissioner       commissioner (aggregates only)
  admin              administrator
  other.coordinator  another provider: sees none of the above cases

{family_link}
Messages are sent by a dispatcher running beside the server: emails land in var/outbox/
and SMS in var/sms-dry-run.jsonl (no accounts needed). Stop with Ctrl+C.
""",
        flush=True,
    )
    env = {**os.environ, "SITE_URL": f"http://{address}"}
    dispatcher = subprocess.Popen([PYTHON, "manage.py", "run_dispatcher"], cwd=ROOT, env=env)
    try:
        return subprocess.call([PYTHON, "manage.py", "runserver", address, "--noreload"], cwd=ROOT, env=env)
    finally:
        dispatcher.terminate()
        dispatcher.wait(timeout=10)


def _demo_offer_link(address: str) -> str:
    """A family's booking link from the demo data, so a newcomer can walk the family's side of the flow."""
    env = {**os.environ, "SITE_URL": f"http://{address}"}
    result = subprocess.run([PYTHON, "manage.py", "demo_offer"], cwd=ROOT, env=env, capture_output=True, text=True)
    link = result.stdout.strip().splitlines()[-1] if result.returncode == 0 and result.stdout.strip() else ""
    return f"A family's booking link (open it in a private window):\n  {link}\n" if link else ""


def test(extra: list[str]) -> int:
    ensure_environment()
    return subprocess.call([PYTHON, "-m", "pytest", *extra], cwd=ROOT)


def main() -> int:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    try:
        return commands[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
