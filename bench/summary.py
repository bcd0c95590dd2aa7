"""The three headline ratios of issue 13, side by side, from the latest bench/results/*.json
(run by `make bench` after every benchmark; each line names the load it was measured at).

- drift: Evidently's DataDriftPreset wall time / our per-partition compare (1M x 50), and ours
  against the 1 s goal;
- training set: ours / the raw DuckDB ASOF JOIN (goal <= 1.1);
- first run: the default run's wall time / the 90 s goal, and with CDNOW / 120 s (<= 1.0 meets
  it; `bench_first_run.py --cdnow-days 200 --out bench/results/first_run_cdnow.json`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _loads(env: dict[str, Any]) -> str:
    before, after = env.get("load_average_before"), env.get("load_average_after")
    if not before or not after:
        return "load not recorded"
    return f"load {before[0]:.1f} -> {after[0]:.1f}"


def main() -> None:
    print("issue 13 ratios (from bench/results)")
    drift = _load("drift.json")
    if drift and drift.get("evidently"):
        ours, ev = drift["ours"], drift["evidently"]
        ratio = ev["seconds"] / ours["compare_seconds"]
        print(
            f"  drift       evidently / ours compare {ratio:7.1f}x"
            f"  (compare {ours['compare_seconds']:.2f} s, goal <= 1 s; extra "
            f"{ours['extra_mb']:.0f} MB; {_loads(drift['environment'])}, {drift['measured_at']})"
        )
    else:
        print("  drift       no result with Evidently yet: bench/bench_drift.py")
    feast = _load("feast.json")
    if feast and "training_set" in feast:
        ts = feast["training_set"]
        env = feast.get("meta", {}).get("environment", {})
        print(
            f"  training    ours / raw ASOF JOIN {ts['ratio_ours_vs_raw']:11.2f}x"
            f"  (goal <= 1.1; CPU {ts['cpu_ratio_ours_vs_raw']:.2f}x; identical "
            f"{ts['identical_to_raw']}; {_loads(env)})"
        )
    else:
        print("  training    no result yet: bench/bench_feast.py")
    for name, what in (("first_run.json", "churn"), ("first_run_cdnow.json", "+ CDNOW")):
        first = _load(name)
        if first:
            goal, ratio = first["goal_seconds"], first["ratio_to_goal"]
            print(
                f"  first run   {what:7} total / {goal:.0f} s goal {ratio:5.2f}x"
                f"  ({first['total_seconds']:.0f} s; {_loads(first['environment'])}, "
                f"{first['measured_at']})"
            )
        else:
            print(f"  first run   {what}: no result yet: bench/bench_first_run.py")


if __name__ == "__main__":
    main()
