"""Small builders for the dbt export the Feast repo reads (one parquet file per feature_date)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tests.feature_columns import FEATURE_COLUMNS

EXPORT_DIR = Path("features") / "customer_activity_features"


def day_ts(day: date) -> pd.Timestamp:
    """event_timestamp of a feature_date: the day has closed (day + 1, 00:00 UTC)."""
    return pd.Timestamp(day + timedelta(days=1), tz="UTC")


def write_day(home: Path, day: date, frame: pd.DataFrame, file: str = "data.parquet") -> Path:
    """Write one day as the dbt export does: timestamps as timestamp[us, UTC]."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema = pa.schema(
        pa.field(f.name, pa.timestamp("us", "UTC")) if pa.types.is_timestamp(f.type) else f
        for f in table.schema
    )
    folder = Path(home) / EXPORT_DIR / f"feature_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.cast(schema), folder / file)
    return folder / file


def day_frame(
    day: date,
    customers: Sequence[str],
    values: Mapping[str, Sequence[float]] | float | None = None,
    *,
    created: datetime | pd.Timestamp | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One feature_date for `customers`: random features unless `values` pins them."""
    rng = np.random.default_rng(seed)
    ts = day_ts(day)
    frame = pd.DataFrame(
        {
            "customer_id": list(customers),
            "event_timestamp": ts,
            "created_timestamp": pd.Timestamp(created) if created is not None else ts,
        }
    )
    for name in FEATURE_COLUMNS:
        if values is None:
            frame[name] = np.round(rng.random(len(customers)) * 100, 3)
        elif isinstance(values, Mapping):
            frame[name] = values.get(name, np.arange(len(customers), dtype=float))
        else:
            frame[name] = float(values)
    return frame


def random_history(
    home: Path, start: date, n_days: int, n_customers: int, *, seed: int = 0, p_skip: float = 0.2
) -> dict[date, pd.DataFrame]:
    """Days of exports where each customer is missing on some days (so TTLs matter)."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:05d}" for i in range(n_customers)]
    days = {}
    for d in range(n_days):
        day = start + timedelta(days=d)
        keep = [c for c in ids if rng.random() > p_skip]
        frame = day_frame(day, keep, seed=seed * 1000 + d)
        frame.loc[frame.sample(frac=0.05, random_state=d).index, "total_amount_7d"] = np.nan
        frame.loc[frame.sample(frac=0.05, random_state=d + 1).index, "total_amount_30d"] = 0.0
        write_day(home, day, frame)
        days[day] = frame
    return days


def random_labels(
    start: date, n_days: int, n_customers: int, n: int, *, seed: int = 1
) -> pd.DataFrame:
    """Labels at day boundaries and mid-day, some beyond the data (TTL) and unknown customers."""
    rng = np.random.default_rng(seed)
    cust = rng.integers(0, n_customers + 3, n)
    offset = pd.to_timedelta(rng.integers(0, (n_days + 6) * 4, n) * 6, unit="h")
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in cust],
            "event_timestamp": pd.Timestamp(start, tz="UTC") + offset,
            "label": rng.integers(0, 2, n),
        }
    )
