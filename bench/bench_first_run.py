"""The first command's run after install, timed per phase, against the 90 s goal.

    .venv/bin/python bench/bench_first_run.py                  # default churn world
    .venv/bin/python bench/bench_first_run.py --cdnow-days 200 # + the CDNOW replay (goal 120 s)

Runs what `make demo-headless` runs, in a fresh data home (a temp MLOPS_HOME and DAGSTER_HOME):
`mlops-assets simulate` (+ `replay-cdnow --days N`), then `mlops-assets materialize`, each as a
subprocess, and reads the per-phase times the runner prints ("[i/n] phase: done in N s").
The machine's load average is recorded before and after. Results: bench/results/first_run.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "first_run.json"
CLI = Path(sys.executable).with_name("mlops-assets")
PHASE_DONE = re.compile(r"^\[(\d+)/(\d+)\] (.+): done in (\d+) s")


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, check=False, cwd=ROOT.parent
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"mlops-assets {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return seconds, proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cdnow-days", type=int, default=0, help="also replay CDNOW (0: no)")
    parser.add_argument("--keep", action="store_true", help="keep the temp data home")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    goal = 120.0 if args.cdnow_days else 90.0

    home = Path(tempfile.mkdtemp(prefix="bench_first_run_"))
    env = {**os.environ, "MLOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    load_before = os.getloadavg()
    steps: dict[str, float] = {}
    phases: list[dict[str, object]] = []
    try:
        steps["simulate"], _ = _run(["simulate"], env)
        if args.cdnow_days:
            steps["replay-cdnow"], _ = _run(["replay-cdnow", "--days", str(args.cdnow_days)], env)
        steps["materialize"], log = _run(["materialize"], env)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    load_after = os.getloadavg()
    for line in log.splitlines():
        m = PHASE_DONE.match(line.strip())
        if m:
            phases.append({"phase": m.group(3), "seconds": int(m.group(4))})
    total = sum(steps.values())

    print(
        f"first run after install ({'churn world + CDNOW' if args.cdnow_days else 'churn world'})"
    )
    for name, secs in steps.items():
        print(f"  {name:34}{secs:8.1f} s")
    for p in phases:
        print(f"    {p['phase']:32}{p['seconds']:8d} s")
    ratio = total / goal
    print(f"  {'total':34}{total:8.1f} s   ratio to the {goal:.0f} s goal: {ratio:.2f}x")
    load = f"{load_before[0]:.1f} / {load_after[0]:.1f}"
    print(f"load average (1 min) before/after: {load} on {os.cpu_count()} CPUs")
    report = {
        "benchmark": "first_run",
        "command": " ".join(["bench/bench_first_run.py", *sys.argv[1:]]),
        "cdnow_days": args.cdnow_days,
        "steps_seconds": steps,
        "materialize_phases": phases,
        "total_seconds": total,
        "goal_seconds": goal,
        "ratio_to_goal": ratio,
        "environment": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
