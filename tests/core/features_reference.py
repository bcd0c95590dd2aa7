"""A pandas reference for the churn feature definitions (the dbt mart must compute the same).

Tests use it to train models on simulated data, so the simulator is tuned against exactly the
features the platform will serve. It favours being obviously right over being clever: daily
activity goes into dense (date x customer) matrices and every window is a difference of
cumulative sums over the landed dates (days before the first landed date count as empty).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_assets.datasets.simulator import PLANS, SOURCES
from tests.feature_columns import FEATURE_COLUMNS

PLAN_TIER = {plan: tier for tier, plan in enumerate(PLANS, start=1)}  # basic=1 … premium=3


def load_landing(landing_dir: Path) -> dict[str, pd.DataFrame]:
    """Concatenate every day folder of a landing zone into one frame per source.

    Values stay strings exactly as written (`dtype=str`, empty fields stay ""), so contract
    checks see the raw text.
    """
    frames: dict[str, list[pd.DataFrame]] = {spec.name: [] for spec in SOURCES}
    for day_dir in sorted(p for p in landing_dir.iterdir() if p.is_dir() and p.name[0] != "."):
        for spec in SOURCES:
            path = day_dir / spec.file_name
            if path.exists():
                frames[spec.name].append(pd.read_csv(path, dtype=str, keep_default_na=False))
    return {
        name: pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=list(spec.column_names))
        for (name, parts), spec in zip(frames.items(), SOURCES, strict=True)
    }


def compute_features(
    customers: pd.DataFrame,
    transactions: pd.DataFrame,
    tickets: pd.DataFrame,
    dates: Iterable[date] | None = None,
) -> pd.DataFrame:
    """One row per (customer_id, feature_date) for customers signed up on or before that date.

    History starts at the first date present in the data: windows reaching further back only see
    what was landed, exactly as the warehouse would. `dates` defaults to every date of the data.
    """
    ids = pd.Index(customers["customer_id"])
    signup = pd.to_datetime(customers["signup_date"]).to_numpy()
    tx_day = pd.to_datetime(transactions["transaction_ts"]).dt.normalize()
    tk_day = pd.to_datetime(tickets["created_ts"]).dt.normalize()
    event_days = pd.concat([tx_day, tk_day])
    grid = pd.date_range(event_days.min(), event_days.max())

    def daily(values: np.ndarray, day: pd.Series, who: pd.Series) -> np.ndarray:
        """A dense (day x customer) matrix of daily sums."""
        out = np.zeros((len(grid), len(ids)))
        np.add.at(out, (grid.get_indexer(day), ids.get_indexer(who)), values)
        return out

    nb_tx = daily(np.ones(len(transactions)), tx_day, transactions["customer_id"])
    amount = daily(
        transactions["amount"].astype(float).to_numpy(), tx_day, transactions["customer_id"]
    )
    nb_tk = daily(np.ones(len(tickets)), tk_day, tickets["customer_id"])
    cumulative = {
        name: np.vstack([np.zeros((1, len(ids))), np.cumsum(matrix, axis=0)])
        for name, matrix in (("tx", nb_tx), ("amount", amount), ("tk", nb_tk))
    }
    # Row index of each customer's last transaction day up to each day (-1: none yet).
    last_tx = np.maximum.accumulate(np.where(nb_tx > 0, np.arange(len(grid))[:, None], -1), axis=0)

    def window(name: str, d: int, days: int) -> np.ndarray:
        """Sum over the `days` days ending on grid day `d` (inclusive)."""
        return cumulative[name][d + 1] - cumulative[name][max(0, d + 1 - days)]

    wanted = grid if dates is None else pd.to_datetime(list(dates))
    parts = []
    for day in wanted:
        d = grid.get_loc(day)
        signed_up = signup <= day.to_datetime64()
        tenure = ((day.to_datetime64() - signup) // np.timedelta64(1, "D")).astype(int)
        age = d - last_tx[d]
        nb_30d = window("tx", d, 30)
        amount_30d = window("amount", d, 30)
        part = pd.DataFrame(
            {
                "customer_id": ids,
                "feature_date": day.date(),
                "nb_transactions_7d": window("tx", d, 7).astype(int),
                "nb_transactions_30d": nb_30d.astype(int),
                "total_amount_7d": window("amount", d, 7),
                "total_amount_30d": amount_30d,
                "avg_transaction_amount": np.divide(
                    amount_30d, nb_30d, out=np.zeros(len(ids)), where=nb_30d > 0
                ),
                "days_since_last_transaction": np.where(
                    (last_tx[d] >= 0) & (age <= 89), age, np.minimum(tenure, 90)
                ),
                "support_tickets_30d": window("tk", d, 30).astype(int),
                "support_tickets_90d": window("tk", d, 90).astype(int),
                "tenure_days": tenure,
                "monthly_fee": customers["monthly_fee"].astype(float).to_numpy(),
                "plan_tier": customers["plan"].map(PLAN_TIER).to_numpy(),
            }
        )
        parts.append(part[signed_up])
    features = pd.concat(parts, ignore_index=True)
    return features[["customer_id", "feature_date", *FEATURE_COLUMNS]]


def labelled_features(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Label rows joined to the features of their observation date (same customer)."""
    labels = labels.assign(
        observation_date=pd.to_datetime(labels["observation_date"]).dt.date,
        churned=labels["churned"].astype(int),
    )
    merged = labels.merge(
        features,
        left_on=["customer_id", "observation_date"],
        right_on=["customer_id", "feature_date"],
        how="left",
        validate="one_to_one",
    )
    return merged.drop(columns="feature_date")
