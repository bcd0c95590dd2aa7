"""CDNOW repurchase: a recency/frequency rule vs a gradient-boosted model, side by side.

The numbers the CDNOW model's gate floor is set from. The real pipeline builds the data: the
first `--days` days of CDNOW are replayed (`datasets.cdnow`), ingested (`core.ingest`) and
built by `dbt build --select cdnow` in a temp data home; then, straight from DuckDB, the
features mart is joined to the labels mart on (customer, observation day) and split by time
the way training would see it on day `--cutoff`: train on observation days whose labels had
arrived by then (day < cutoff - 90, one snapshot every `--train-every` days), test on every
observation day from the cutoff on. Nothing of the test period (its labels look 90 days ahead)
is visible when training.

- rule: score = nb_purchases_90d / (1 + recency_days) — no fitting at all
- recency: score = -recency_days (the simplest RFM rule)
- model: sklearn HistGradientBoostingClassifier (defaults, random_state=0) on the 12 features,
  and (ablation) on the windowed features + recency only

Scoring population: customers with a purchase in the 365 days up to the observation day
(`recency_days <= 365`; everyone in the first year, since all customers joined in Q1 1997).

Run: `.venv/bin/python bench/bench_cdnow_baseline.py` (~2-3 min: most of it is the replay
ingest and dbt build of 455 days). Output: bench/results/cdnow_baseline.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEATURES = (
    "recency_days",
    "tenure_days",
    "nb_purchases_30d",
    "nb_purchases_90d",
    "nb_purchases_365d",
    "nb_purchases_lifetime",
    "purchase_days_lifetime",
    "amount_90d",
    "amount_lifetime",
    "avg_basket_amount",
    "quantity_90d",
    "quantity_lifetime",
)
WINDOWED = (
    "recency_days",
    "nb_purchases_30d",
    "nb_purchases_90d",
    "nb_purchases_365d",
    "amount_90d",
    "quantity_90d",
)
LABEL = "repurchased_90d"
LABEL_DELAY = 90
POPULATION = "recency_days <= 365"


def build_marts(home: Path, days: int) -> dict[str, float]:
    """Replay, ingest and dbt-build `days` days into `home`; returns the phase timings."""
    import duckdb

    from mlops_assets.core import ingest
    from mlops_assets.datasets.cdnow import CDNOW_PURCHASES, ReplayConfig, replay

    timings = {}
    t = time.perf_counter()
    landing = home / "landing"
    replay(ReplayConfig(days=days), landing)
    timings["replay_s"] = time.perf_counter() - t
    t = time.perf_counter()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        for day in ingest.landed_days(landing):
            path = ingest.day_file(landing, CDNOW_PURCHASES, day)
            result = ingest.ingest_file(con, CDNOW_PURCHASES, day, path)
            if result.quarantined:
                raise RuntimeError(f"{day}: {result.quarantined} rows quarantined")
    timings["ingest_s"] = time.perf_counter() - t
    (home / "features").mkdir()
    t = time.perf_counter()
    dbt_dir = ROOT / "dbt_project"
    dbt = str(Path(sys.executable).parent / "dbt")
    done = subprocess.run(
        [dbt, "build", "--select", "cdnow", "--target-path", str(home / "target")],
        cwd=dbt_dir,
        env={**os.environ, "MLOPS_HOME": str(home), "DBT_PROFILES_DIR": str(dbt_dir)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{done.stdout[-3000:]}")
    timings["dbt_build_s"] = time.perf_counter() - t
    return timings


def load_split(home: Path, start: dt.date, cutoff: int, train_every: int, test_until: int):
    """(train, test) frames of features + label, split by observation day (see module doc)."""
    import duckdb

    cols = ", ".join(f"cast(f.{c} as double) as {c}" for c in FEATURES)
    sql = (
        f"select f.customer_id, f.feature_date, {cols}, l.{LABEL} "
        "from cdnow_customer_features f join cdnow_repurchase_labels l "
        "on l.customer_id = f.customer_id and l.observation_date = f.feature_date "
        f"where f.{POPULATION} and f.feature_date between ? and ? "
    )
    cut = start + dt.timedelta(days=cutoff)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        # a fixed row order: HGB's early-stopping split depends on it
        order = " order by f.feature_date, f.customer_id"
        train = con.execute(
            sql + f"and date_diff('day', ?, f.feature_date) % {train_every} = 0" + order,
            [start, cut - dt.timedelta(days=LABEL_DELAY + 1), start],
        ).df()
        test = con.execute(sql + order, [cut, start + dt.timedelta(days=test_until)]).df()
    return train, test


def evaluate(y, score) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "auc_pr": float(average_precision_score(y, score)),
        "roc_auc": float(roc_auc_score(y, score)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=455, help="days replayed (default 365 + 90)")
    parser.add_argument("--cutoff", type=int, default=270, help="day index training happens")
    parser.add_argument("--train-every", type=int, default=7, help="train snapshot spacing")
    parser.add_argument("--test-until", type=int, default=364, help="last test observation day")
    args = parser.parse_args()
    if args.test_until + LABEL_DELAY >= args.days:
        parser.error("--days must cover --test-until + 90 (the test labels' arrival)")
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlops_assets.datasets.cdnow import ReplayConfig

    start = ReplayConfig().start_date
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        print(f"replay + ingest + dbt build of {args.days} CDNOW days …", file=sys.stderr)
        timings = build_marts(home, args.days)
        train, test = load_split(home, start, args.cutoff, args.train_every, args.test_until)
    x_train, y_train = train[list(FEATURES)].to_numpy(), train[LABEL].to_numpy()
    x_test, y_test = test[list(FEATURES)].to_numpy(), test[LABEL].to_numpy()
    t = time.perf_counter()
    model = HistGradientBoostingClassifier(random_state=0).fit(x_train, y_train)
    timings["fit_s"] = time.perf_counter() - t
    # ablation: only windowed features + recency (no tenure / lifetime features, which in a
    # closed cohort like CDNOW's keep drifting as the cohort ages)
    windowed = [FEATURES.index(c) for c in WINDOWED]
    small = HistGradientBoostingClassifier(random_state=0).fit(x_train[:, windowed], y_train)
    scores = {
        "rule: nb_purchases_90d / (1 + recency_days)": (
            test["nb_purchases_90d"] / (1.0 + test["recency_days"])
        ).to_numpy(),
        "rule: -recency_days": -test["recency_days"].to_numpy(),
        "model: HistGradientBoosting": model.predict_proba(x_test)[:, 1],
        "model: HGB, windowed features + recency": small.predict_proba(x_test[:, windowed])[:, 1],
    }
    results = {name: evaluate(y_test, s) for name, s in scores.items()}
    positive_rate = float(np.mean(y_test))
    print(
        f"\nCDNOW repurchase within 90 days — test: observation days {args.cutoff}-"
        f"{args.test_until} ({len(test):,} rows, {positive_rate:.1%} positive); train: "
        f"days 0-{args.cutoff - LABEL_DELAY - 1} every {args.train_every} "
        f"({len(train):,} rows, {train[LABEL].mean():.1%} positive)"
    )
    print(f"{'scorer':<50} {'AUC-PR':>8} {'ROC-AUC':>8}")
    for name, m in results.items():
        print(f"{name:<50} {m['auc_pr']:>8.4f} {m['roc_auc']:>8.4f}")
    base = results["rule: nb_purchases_90d / (1 + recency_days)"]
    ours = results["model: HistGradientBoosting"]
    print(
        f"model / rule: AUC-PR {ours['auc_pr'] / base['auc_pr']:.3f}x, "
        f"ROC-AUC {ours['roc_auc'] / base['roc_auc']:.3f}x; AUC-PR of a random scorer = "
        f"{positive_rate:.4f}"
    )
    out = ROOT / "bench" / "results" / "cdnow_baseline.json"
    out.write_text(
        json.dumps(
            {
                "task": "cdnow: buys again within 90 days of the observation day",
                "start_date": start.isoformat(),
                "days_replayed": args.days,
                "split": {
                    "train_observation_days": [0, args.cutoff - LABEL_DELAY - 1],
                    "train_every_days": args.train_every,
                    "test_observation_days": [args.cutoff, args.test_until],
                    "population": POPULATION,
                },
                "rows": {"train": len(train), "test": len(test)},
                "positive_rate": {"train": float(train[LABEL].mean()), "test": positive_rate},
                "features": list(FEATURES),
                "results": results,
                "timings_s": timings,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written: {out.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
