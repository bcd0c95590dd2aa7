"""Incremental cost of the daily monitoring work: re-materializing one day's scores and drift
report late in the history (day 90) vs early (day 10), interleaved, side by side. Work is per
partition, so the ratio should stay near 1 (goal ≤ 1.2×) however long the history grows.

Run: `.venv/bin/python bench/bench_incremental.py [--customers 2000] [--repeats 3]`.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SELECTION = "key:churn/daily_scores or key:churn/drift_report"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLOPS_HOME"] = str(Path(tmp) / "home")
        os.environ["DAGSTER_HOME"] = tmp
        import dagster as dg

        from mlops_assets.datasets.simulator import SimulationConfig, simulate
        from mlops_assets.definitions import defs as load_defs
        from mlops_assets.runner import materialize_everything, run_selection
        from mlops_assets.settings import Settings

        settings = Settings.from_env()
        simulate(SimulationConfig(days=args.days, customers=args.customers), settings.landing_dir)
        defs = load_defs()
        instance = dg.DagsterInstance.ephemeral()
        print("building the history once (not timed) …", file=sys.stderr)
        materialize_everything(
            defs, settings.landing_dir, instance=instance, progress=lambda _: None
        )
        start = dt.date(2026, 1, 1)
        early = (start + dt.timedelta(days=9)).isoformat()
        late = (start + dt.timedelta(days=args.days - 1)).isoformat()

        def one(day: str) -> float:
            t = time.perf_counter()
            run_selection(defs, SELECTION, instance=instance, partition_range=(day, day))
            return time.perf_counter() - t

        one(early), one(late)  # warm caches (model download, reference profile)
        timings: dict[str, list[float]] = {early: [], late: []}
        for _ in range(args.repeats):
            timings[early].append(one(early))
            timings[late].append(one(late))
    e, l_ = statistics.median(timings[early]), statistics.median(timings[late])
    print(f"\nscores + drift for one day, {args.customers} customers, {args.days} days of history")
    print(f"{'day':<12} {'median s':>9}")
    print(f"{'day 10':<12} {e:>9.2f}")
    print(f"{f'day {args.days}':<12} {l_:>9.2f}")
    print(f"ratio day {args.days} / day 10: {l_ / e:.2f}x (goal <= 1.2x)")
    out = ROOT / "bench" / "results" / "incremental.json"
    out.write_text(
        json.dumps({"day10_s": timings[early], "late_s": timings[late], "ratio": l_ / e}, indent=2)
    )


if __name__ == "__main__":
    main()
