#!/usr/bin/env python3
"""Run the benchmarks one after another and write BENCHMARKS.md.

python3 bench/run.py                      # every benchmark
python3 bench/run.py --only slots_api     # one (or several: --only a,b or --only a --only b)
python3 bench/run.py --list               # their names

Each benchmark runs in its own process (each sets Django up on its own database) with the project's virtual
environment. Its result is kept in bench/results/NAME.json; BENCHMARKS.md is written from the results of this run
and, for benchmarks not run this time, from their last kept result (each section says when it was measured).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
OUTPUT = ROOT / "BENCHMARKS.md"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
# In the order of the document: slot search (engine, API), the booking race, reminder fan-out, CalDAV sync.
ORDER = ["slots_engine", "slots_api", "booking_race", "reminders", "caldav_sync"]
TIMEOUT_SECONDS = 30 * 60


def python() -> str:
    return str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable


def available() -> list[str]:
    found = {p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py")}
    return [name for name in ORDER if name in found] + sorted(found - set(ORDER))


# --- one benchmark, in a child process -------------------------------------------------------------------------


def child(name: str, out: Path) -> None:
    """Inside the child process: import bench_NAME, call run(), write its result as JSON."""
    sys.path[:0] = [str(ROOT), str(HERE)]
    import importlib

    module = importlib.import_module(f"bench_{name}")
    out.write_text(json.dumps(module.run(), ensure_ascii=False, indent=1))


def run_one(name: str) -> dict[str, Any]:
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json.part"
    out.unlink(missing_ok=True)
    print(f"==> {name}", flush=True)
    load = os.getloadavg()[0]
    started = time.monotonic()
    when = datetime.now(UTC)
    try:
        process = subprocess.run(
            [python(), str(Path(__file__).resolve()), "--child", name, "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
        failure = None if process.returncode == 0 and out.exists() else (process.stderr or process.stdout)[-4000:]
    except subprocess.TimeoutExpired as exc:
        failure = f"did not finish within {TIMEOUT_SECONDS} s: {str(exc.stderr or '')[-2000:]}"
    seconds = time.monotonic() - started
    if failure is None:
        result = json.loads(out.read_text())
        out.unlink()
    else:
        result = {"title": name, "command": f".venv/bin/python bench/bench_{name}.py", "rows": [], "notes": []}
        result["error"] = failure
        print(failure, file=sys.stderr)
    result["meta"] = {"measured": when.strftime("%Y-%m-%d %H:%M UTC"), "seconds": round(seconds), "load": load}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"    {'failed' if failure else 'done'} in {seconds:.0f} s", flush=True)
    return result


# --- the document ----------------------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        kib = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
    versions = subprocess.run(
        [python(), "-c", "import sys; sys.path.insert(0, 'bench'); import support;"
         " print(sys.version.split()[0]); print(support.server_version())"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout.split("\n")  # fmt: skip
    py, pg = (versions + ["?", "?"])[:2]
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores",
        f"- Memory: {kib / 1024 / 1024:.1f} GiB",
        f"- OS: {platform.system()} {platform.release()}",
        f"- Python {py}; PostgreSQL {pg}",
    ]


def section(name: str, result: dict[str, Any]) -> list[str]:
    meta = result.get("meta", {})
    lines = [f"## {result['title']}", ""]
    lines.append(
        f"Measured {meta.get('measured', '?')}, took {meta.get('seconds', '?')} s, load average"
        f" {meta.get('load', 0):.1f} when it began. Reproduce: `{result['command']}`"
        f" (or `make bench-{name.replace('_', '-')}`)."
    )
    lines.append("")
    if result.get("error"):
        lines += ["**The benchmark failed:**", "", "```", str(result["error"]).strip(), "```", ""]
        return lines
    lines.append("| metric | value | target | met | baseline | ratio |")
    lines.append("|---|---|---|---|---|---|")
    for r in result["rows"]:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        cells = [str(r[k]).replace("|", "\\|") for k in ("metric", "value", "target")]
        cells += [met, str(r["baseline"]).replace("|", "\\|"), str(r["ratio"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- {note}" for note in result["notes"])
    lines.append("")
    return lines


def summary(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| benchmark | targets met | missed |", "|---|---|---|"]
    for result in results.values():
        targets = [r for r in result["rows"] if r["met"] is not None]
        missed = [r["metric"] for r in targets if not r["met"]]
        if result.get("error"):
            lines.append(f"| {result['title']} | failed to run | |")
            continue
        met = len(targets) - len(missed)
        lines.append(f"| {result['title']} | {met} of {len(targets)} | {'; '.join(missed) or '-'} |")
    return lines


def write(results: dict[str, dict[str, Any]]) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC}. Regenerate with `make bench` (`.venv/bin/python"
        " bench/run.py`); each section says when it was measured and the command that reproduces it alone.",
        "Each benchmark also measures a simple baseline in the same run and gives the ratio, because these"
        " machines are shared and absolute times drift. Targets come from the issues; a missed target is said"
        " in the notes, with by how much and why.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Summary",
        "",
        *summary(results),
        "",
    ]
    for name, result in results.items():
        lines += section(name, result)
    OUTPUT.write_text("\n".join(lines).rstrip() + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help="benchmark name(s), e.g. slots_api")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out)
        return 0
    names = available()
    if args.list:
        print("\n".join(names))
        return 0
    wanted = [n.strip().removeprefix("bench_").replace("-", "_") for part in args.only for n in part.split(",")]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    fresh = {name: run_one(name) for name in (wanted or names)}
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in fresh:
            results[name] = fresh[name]
        elif (RESULTS / f"{name}.json").exists():
            results[name] = json.loads((RESULTS / f"{name}.json").read_text())
    write(results)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 1 if any(r.get("error") for r in fresh.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
