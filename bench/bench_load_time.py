"""Code-location load time: `import mlops_assets.definitions` + building the Definitions vs
`import dagster, dagster_dbt`, each in fresh processes, interleaved, side by side.

Target (issue 3): ratio ≤ 1.15. Run: `.venv/bin/python bench/bench_load_time.py [--repeats 7]`.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

BASELINE = "import dagster, dagster_dbt"
OURS = "import mlops_assets.definitions as d; defs = d.defs(); defs.resolve_asset_graph()"
TIMER = "import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"


def _time(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", TIMER.format(code=code)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    _time(BASELINE), _time(OURS)  # warm the OS file cache for both
    base, ours = [], []
    for _ in range(args.repeats):
        base.append(_time(BASELINE))
        ours.append(_time(OURS))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"{'what':<40} {'median s':>9} {'min s':>7}")
    print(f"{'import dagster, dagster_dbt':<40} {b:>9.3f} {min(base):>7.3f}")
    print(f"{'import + load mlops_assets.definitions':<40} {o:>9.3f} {min(ours):>7.3f}")
    print(f"ratio ours / baseline: {o / b:.2f}x (target <= 1.15x)")
    out = Path(__file__).parent / "results" / "load_time.json"
    out.write_text(json.dumps({"baseline_s": base, "ours_s": ours, "ratio": o / b}, indent=2))


if __name__ == "__main__":
    main()
