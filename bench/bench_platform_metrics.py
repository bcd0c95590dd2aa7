"""Scrape time of the batch-side platform metrics (`mlops-assets metrics`).

    .venv/bin/python bench/bench_platform_metrics.py             # ~15 s
    .venv/bin/python bench/bench_platform_metrics.py --days 365

Builds a data home with the files the assets write for two models and N days (default 120):
a drift and a performance summary per model and day (12 inputs' PSI each), a retraining
history of 40 versions per model, and an ingest status per day for every declared source.
Then starts the real exporter (`mlops-assets metrics`) on 127.0.0.1 and scrapes `/metrics`
over HTTP: the first scrape (cold: every file parsed) and 300 more (warm: the mtime cache),
side by side with the same read in-process (no HTTP). Goal (issue 11): a scrape answers in
<= 50 ms with two models and 120 days. Results: bench/results/platform_metrics.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mlops_assets.core import ingest_status, monitoring  # noqa: E402
from mlops_assets.observability.exporter import build_registry, declared_sources  # noqa: E402
from tests.net import free_port  # noqa: E402

BIN = Path(sys.executable).parent
FEATURES = [f"feature_{i:02d}" for i in range(12)]


def build_home(home: Path, days: int) -> dict[str, int]:
    models, sources = declared_sources()
    rng = np.random.default_rng(0)
    start = dt.date(2026, 1, 1)
    files = 0
    for model in models:
        store = monitoring.SummaryStore(home / "monitoring" / model.name / "days")
        for d in range(days):
            day = start + dt.timedelta(days=d)
            psi = {f: float(rng.gamma(1.0, 0.05)) for f in FEATURES}
            drifted = [f for f, p in psi.items() if p > 0.2]
            store.write(
                day,
                monitoring.DRIFT_OWNER,
                model_version="3",
                drifted_features=drifted,
                drift_share=len(drifted) / len(FEATURES),
                warming_up=d < 29,
                feature_psi=psi,
                score_psi=float(rng.gamma(1.0, 0.02)),
            )
            store.write(
                day,
                monitoring.PERFORMANCE_OWNER,
                model_version="3",
                auc_pr=float(rng.uniform(0.6, 0.9)),
                roc_auc=float(rng.uniform(0.7, 0.95)),
                ece=float(rng.uniform(0.0, 0.1)),
                warming_up=d < 29,
            )
            files += 2
        history = pd.DataFrame(
            {
                "version": [str(v) for v in range(1, 41)],
                "created": pd.Timestamp("2026-01-01", tz="UTC"),
                "trigger": rng.choice(["manual", "schedule", "drift", "performance"], 40),
                "training_window": "",
                "training_set_fingerprint": "",
                "model_kind": "xgboost",
                "gate_passed": rng.choice(["true", "false"], 40),
                "gate_reasons": "",
                "promoted": [v % 3 == 0 for v in range(1, 41)],
                "champion_since": [
                    "2026-03-01T00:00:00+00:00" if v == 39 else "" for v in range(1, 41)
                ],
                "is_champion": [v == 39 for v in range(1, 41)],
            }
        )
        history.to_parquet(home / "monitoring" / model.name / "retraining_history.parquet")
        files += 1
    for src in sources:
        for d in range(days):
            ingest_status.write_status(
                home, src.dataset, src.source, start + dt.timedelta(days=d), 1000, 990, 10
            )
            files += 1
    return {"models": len(models), "sources": len(sources), "days": days, "files": files}


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def bench_in_process(home: Path, n: int) -> dict[str, object]:
    from prometheus_client import generate_latest

    registry = build_registry(home)
    t = time.perf_counter()
    body = generate_latest(registry)
    cold = time.perf_counter() - t
    warm = []
    for _ in range(n):
        t = time.perf_counter()
        generate_latest(registry)
        warm.append(time.perf_counter() - t)
    return {"cold_ms": cold * 1000, "warm": _stats(warm), "bytes": len(body)}


def bench_http(home: Path, n: int) -> dict[str, object]:
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "mlops-assets"), "metrics", "--port", str(port)],
        env={"MLOPS_HOME": str(home), "PATH": str(BIN)},
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client() as client:
            while True:
                try:
                    client.get(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("the exporter did not start") from None
                    time.sleep(0.1)
            t = time.perf_counter()
            first = client.get(url)
            cold = time.perf_counter() - t
            first.raise_for_status()
            warm = []
            for _ in range(n):
                t = time.perf_counter()
                client.get(url).raise_for_status()
                warm.append(time.perf_counter() - t)
    finally:
        proc.terminate()
        proc.wait(10)
    return {"cold_ms": cold * 1000, "warm": _stats(warm), "series": first.text.count("\n")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shape = build_home(home, args.days)
        in_process = bench_in_process(home, args.scrapes)
        http = bench_http(home, args.scrapes)
    goal_ms = 50.0
    worst = max(http["cold_ms"], http["warm"]["p99_ms"])
    result = {
        "shape": shape,
        "http (mlops-assets metrics)": http,
        "in process (generate_latest)": in_process,
        "goal": f"every scrape <= {goal_ms} ms (cold first scrape and warm p99)",
        "goal_met": worst <= goal_ms,
        "machine": {"python": platform.python_version(), "cpu_count": __import__("os").cpu_count()},
    }
    out = ROOT / "bench" / "results" / "platform_metrics.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        f"scrape over HTTP: cold {http['cold_ms']:.1f} ms, warm p50 {http['warm']['p50_ms']:.2f} "
        f"ms / p99 {http['warm']['p99_ms']:.2f} ms; in process warm p50 "
        f"{in_process['warm']['p50_ms']:.2f} ms; goal <= {goal_ms} ms: "
        f"{'met' if result['goal_met'] else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
