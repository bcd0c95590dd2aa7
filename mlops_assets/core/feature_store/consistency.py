"""Consistency: online values against the latest offline values, for a sample of entities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_assets.core.feature_store.offline_reads import EVENT_MICROS, latest_rows

if TYPE_CHECKING:
    from feast import FeatureStore


def consistency_sample(
    store: FeatureStore,
    feature_view: str,
    *,
    n: int = 200,
    seed: int = 0,
    as_of: datetime | None = None,
    atol: float = 1e-9,
    max_examples: int = 5,
) -> dict[str, Any]:
    """Compare `feature_view`'s online values with its latest offline values, for a sample of
    entities (the view's own join keys, read from the registry).

    Offline "latest" = the row Feast's materialization would pick (latest event_timestamp, then
    created_timestamp) within the materialized range: from the first materialized interval's
    start to `as_of` (default: the last interval's end), so rows exported but not materialized
    yet don't count. Entities absent online are counted in `n_missing_online`; entities whose
    online value is older than the offline one in `n_stale_online`; `n_mismatched` counts
    entities present online with at least one value differing by more than `atol` (or null on
    one side only).
    """
    import numpy as np
    import pandas as pd

    view = store.get_feature_view(feature_view)
    intervals = view.materialization_intervals
    since = min((s for s, _ in intervals), default=datetime(1970, 1, 1, tzinfo=UTC))
    if as_of is None:
        as_of = max((e for _, e in intervals), default=datetime.now(UTC))
    latest = latest_rows(view, since, as_of).to_pandas()
    keys = [c.name for c in view.entity_columns]
    names = [f.name for f in view.features]
    report: dict[str, Any] = {
        "feature_view": feature_view,
        "as_of": as_of.isoformat(),
        "n_offline_entities": len(latest),
        "n_compared": 0,
        "n_mismatched": 0,
        "n_missing_online": 0,
        "n_stale_online": 0,
        "max_abs_diff": 0.0,
        "mismatch_by_feature": {},
        "examples": [],
    }
    if latest.empty:
        return report
    sample = latest.sample(n=min(n, len(latest)), random_state=seed).reset_index(drop=True)
    response = store.get_online_features(
        features=[f"{feature_view}:{f}" for f in names],
        entity_rows={k: sample[k].tolist() for k in keys},
    ).to_dict(include_event_timestamps=True)
    online = pd.DataFrame(response)
    # Online timestamps come back as epoch seconds (0 = no value); the offline ones are micros.
    offline_ts = sample[EVENT_MICROS].to_numpy() // 1_000_000
    online_ts = online[f"{names[0]}__ts"].to_numpy()
    missing_online = online[names].isna().all(axis=1).to_numpy()
    bad = np.zeros(len(sample), dtype=bool)
    max_diff = 0.0
    by_feature: dict[str, int] = {}
    examples: list[dict[str, Any]] = []
    for name in names:
        off = pd.to_numeric(sample[name], errors="coerce").to_numpy(dtype=float)
        on = pd.to_numeric(online[name], errors="coerce").to_numpy(dtype=float)
        both = ~np.isnan(off) & ~np.isnan(on)
        diff = np.where(both, np.abs(off - on), 0.0)
        wrong = ((np.isnan(off) != np.isnan(on)) | (diff > atol)) & ~missing_online
        if both.any():
            max_diff = max(max_diff, float(diff.max()))
        if wrong.any():
            by_feature[name] = int(wrong.sum())
            for i in np.flatnonzero(wrong)[: max(0, max_examples - len(examples))].tolist():
                examples.append(
                    {
                        **{k: sample.at[i, k] for k in keys},
                        "feature": name,
                        "offline": None if np.isnan(off[i]) else float(off[i]),
                        "online": None if np.isnan(on[i]) else float(on[i]),
                    }
                )
        bad |= wrong
    report.update(
        n_compared=len(sample),
        n_mismatched=int(bad.sum()),
        n_missing_online=int(missing_online.sum()),
        n_stale_online=int(((online_ts < offline_ts) & ~missing_online).sum()),
        max_abs_diff=max_diff,
        mismatch_by_feature=by_feature,
        examples=examples,
    )
    return report
