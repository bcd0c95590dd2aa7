"""dbt through Dagster vs the same `dbt build` run directly, on the same partition range,
interleaved, side by side. Shows what the orchestration layer adds to a dbt run.

Run: `.venv/bin/python bench/bench_dbt_overhead.py [--days 30] [--customers 2000] [--repeats 2]`.
"""

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLOPS_HOME"] = str(Path(tmp) / "home")
        os.environ["DAGSTER_HOME"] = tmp
        import dagster as dg

        from mlops_assets.datasets.simulator import SimulationConfig, simulate
        from mlops_assets.definitions import defs as load_defs
        from mlops_assets.runner import run_selection
        from mlops_assets.settings import Settings

        settings = Settings.from_env()
        start = dt.date(2026, 1, 1)
        simulate(SimulationConfig(days=args.days, customers=args.customers), settings.landing_dir)
        defs = load_defs()
        instance = dg.DagsterInstance.ephemeral()
        first, last = start.isoformat(), (start + dt.timedelta(days=args.days - 1)).isoformat()
        ranges = {"range": (first, last), "one day": (last, last)}
        run_selection(
            defs, "group:churn_world_ingest", instance=instance, partition_range=(first, last)
        )
        settings.features_dir.mkdir(parents=True, exist_ok=True)

        def through_dagster(span: tuple[str, str]) -> float:
            t = time.perf_counter()
            selection = (
                "group:churn_world_staging or group:churn_world_intermediate "
                "or group:churn_world_marts"
            )
            run_selection(defs, selection, instance=instance, partition_range=span)
            return time.perf_counter() - t

        def direct(span: tuple[str, str]) -> float:
            dbt_vars = {
                "min_date": span[0],
                "max_date": span[1],
                "features_export_dir": str(settings.features_dir),
            }
            target = Path(tmp) / f"target-{time.monotonic_ns()}"
            t = time.perf_counter()
            subprocess.run(
                [
                    str(Path(sys.executable).parent / "dbt"),
                    "build",
                    "--vars",
                    json.dumps(dbt_vars),
                    "--target-path",
                    str(target),
                    "--quiet",
                ],
                cwd=ROOT / "dbt_project",
                check=True,
                env={**os.environ, "DBT_PROFILES_DIR": str(ROOT / "dbt_project")},
            )
            return time.perf_counter() - t

        results = {}
        for label, span in ranges.items():
            dag, raw = [], []
            for _ in range(args.repeats):
                raw.append(direct(span))
                dag.append(through_dagster(span))
            results[label] = {"dagster_s": dag, "direct_s": raw}

    print(f"\n{args.days} days × {args.customers} customers")
    print(f"{'window':<10} {'dbt direct s':>13} {'via Dagster s':>14} {'ratio':>7}")
    for label, r in results.items():
        d, g = statistics.median(r["direct_s"]), statistics.median(r["dagster_s"])
        r["ratio"] = g / d
        print(f"{label:<10} {d:>13.2f} {g:>14.2f} {g / d:>6.2f}x")
    out = ROOT / "bench" / "results" / "dbt_overhead.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
