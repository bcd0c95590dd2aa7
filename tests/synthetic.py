"""A learnable churn-like training set for tests and benchmarks (not the simulator), with the
model inputs it stands for — the way `<model>/training_set` records them from Feast."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_assets.core import training
from mlops_assets.core.model_inputs import ModelInputs

ENTITY = "customer_id"
SYNTHETIC_FEATURES: tuple[str, ...] = (
    "nb_transactions_7d",
    "nb_transactions_30d",
    "total_amount_7d",
    "total_amount_30d",
    "avg_transaction_amount",
    "days_since_last_transaction",
    "support_tickets_30d",
    "support_tickets_90d",
    "tenure_days",
    "monthly_fee",
    "plan_tier",
)
SYNTHETIC_INPUTS = ModelInputs(
    feature_service="churn_model",
    features=SYNTHETIC_FEATURES,
    windows={
        "nb_transactions_7d": 7,
        "total_amount_7d": 7,
        "nb_transactions_30d": 30,
        "total_amount_30d": 30,
        "avg_transaction_amount": 30,
        "support_tickets_30d": 30,
        "days_since_last_transaction": 90,
        "support_tickets_90d": 90,
    },
    categorical=("plan_tier",),
)


def synthetic_training_set(
    n_rows: int = 8_000,
    *,
    n_days: int = 40,
    seed: int = 0,
    missing_rate: float = 0.05,
    start: str = "2026-01-01",
) -> pd.DataFrame:
    """A learnable churn-like training set in the training-set contract.

    Churn risk rises with recency and support tickets and falls with recent activity and
    tenure; ``missing_rate`` of each feature's cells are NaN. A gradient-boosted model reaches
    AUC-PR around 0.83 on it (positive rate ~27%), while shuffled labels give ~0.3 — enough
    to exercise the promotion gate on both sides. Rows are spread evenly over ``n_days``.
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    engaged = rng.beta(2.0, 2.0, n)  # latent engagement in (0, 1)
    tx30 = rng.poisson(2 + 14 * engaged).astype(float)
    tx7 = rng.binomial(tx30.astype(np.int64), np.clip(0.1 + 0.25 * engaged, 0, 1)).astype(float)
    avg = rng.lognormal(3.4, 0.5, n)
    amt30 = tx30 * avg * rng.uniform(0.8, 1.2, n)
    amt7 = tx7 * avg * rng.uniform(0.8, 1.2, n)
    days_since = np.where(
        tx30 > 0, rng.exponential(2 + 12 * (1 - engaged)), 30 + rng.exponential(30, n)
    )
    t90 = rng.poisson(0.3 + 2.0 * (1 - engaged)).astype(float)
    t30 = rng.binomial(t90.astype(np.int64), 0.4).astype(float)
    tenure = rng.uniform(10, 1500, n)
    plan = rng.integers(0, 3, n).astype(float)
    fee = np.array([19.0, 49.0, 99.0])[plan.astype(np.int64)] + rng.normal(0, 2, n)
    risk = (
        -0.25 * tx7
        - 0.08 * tx30
        + 0.08 * np.minimum(days_since, 60)
        + 0.6 * t30
        + 0.3 * t90
        - 0.0015 * tenure
        + 0.01 * fee
        - 0.4 * plan
    )
    logit = -2.0 + 3.0 * (risk - risk.mean()) / risk.std()
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    X = np.column_stack([tx7, tx30, amt7, amt30, avg, days_since, t30, t90, tenure, fee, plan])
    X[rng.uniform(size=X.shape) < missing_rate] = np.nan
    frame = pd.DataFrame(X, columns=list(SYNTHETIC_FEATURES))
    day = np.sort(rng.integers(0, n_days, n))
    seconds = rng.integers(0, 86_400, n)
    stamps = (
        pd.Timestamp(start, tz="UTC") + pd.to_timedelta(day, "D") + pd.to_timedelta(seconds, "s")
    )
    frame.insert(0, training.LABEL_COLUMN, label)
    frame.insert(0, training.TIME_COLUMN, stamps)
    frame.insert(0, ENTITY, [f"C{i:06d}" for i in rng.permutation(n)])
    return frame
