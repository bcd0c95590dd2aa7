"""Run the whole platform from a shell, recorded in the persistent Dagster instance so the UI
shows every run afterwards (the README's first command uses this)."""

import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.core.ingest import landed_days
from mlops_assets.settings import LABEL_DELAY_DAYS

DAGSTER_YAML = """\
# Written by mlops-assets for the embedded (local) profile: SQLite storage in this folder.
telemetry:
  enabled: false
concurrency:
  pools:
    # DuckDB allows one writer per file: assets in the duckdb_warehouse pool run one at a time.
    default_limit: 1
run_monitoring:
  enabled: false
"""


def ensure_dagster_home(home: Path) -> Path:
    """`DAGSTER_HOME` (default `<data home>/dagster`) with our dagster.yaml if it has none."""
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def run_selection(
    defs: dg.Definitions,
    selection: str,
    *,
    instance: dg.DagsterInstance,
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = True,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of `selection` (an asset selection string), over a partition range if given:
    the same single-run shape a backfill with `BackfillPolicy.single_run()` takes.
    `run_config` adds op config, e.g. `{"ops": {"training_set": {"config": {...}}}}`."""
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.from_string(selection).resolve(graph)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=keys)
    run_tags = dict(tags or {})
    if partition_range:
        run_tags["dagster/asset_partition_range_start"] = partition_range[0]
        run_tags["dagster/asset_partition_range_end"] = partition_range[1]
    return job.execute_in_process(
        instance=instance,
        tags=run_tags,
        raise_on_error=raise_on_error,
        run_config={
            "loggers": {"console": {"config": {"log_level": "INFO"}}},
            **(run_config or {}),
        },
    )


# The phases of a full run, in order: (name, asset selection, range). The range is False
# (unpartitioned), True (every landed day) or "labelled" (landed days whose delayed labels
# have landed too).
PHASES: Sequence[tuple[str, str, bool | str]] = (
    (
        "data",
        "group:ingest or group:dbt_staging or group:dbt_intermediate or group:dbt_marts",
        True,
    ),
    ("feature registry", "key:feast_registry", False),
    ("online features", "key:online_features", True),
    ("models", "key:training_set or group:training or group:export", False),
    ("scores and drift", "key:daily_scores or key:drift_report", True),
    ("performance", "key:model_performance", "labelled"),
    ("history", "key:retraining_history", False),
)


def materialize_everything(
    defs: dg.Definitions,
    landing_dir: Path,
    *,
    instance: dg.DagsterInstance,
    progress: Callable[[str], None],
    only: Sequence[str] | None = None,
) -> list[dg.ExecuteInProcessResult]:
    unknown = set(only or ()) - {name for name, *_ in PHASES}
    if unknown:
        raise RuntimeError(f"unknown phase(s) {sorted(unknown)}; phases: {[p[0] for p in PHASES]}")
    phases = [p for p in PHASES if not only or p[0] in only]
    days = landed_days(landing_dir)
    if not days:
        raise RuntimeError(f"no landed days in {landing_dir}: run `mlops-assets simulate` first")
    labelled = [d for d in days if d + dt.timedelta(days=LABEL_DELAY_DAYS) <= days[-1]]
    spans = {
        True: (days[0], days[-1]),
        "labelled": (labelled[0], labelled[-1]) if labelled else None,
        False: None,
    }
    results = []
    for i, (label, selection, which) in enumerate(phases, start=1):
        span = spans[which]
        if which and span is None:
            progress(f"[{i}/{len(phases)}] {label}: skipped (no day qualifies yet)")
            continue
        n_days = (span[1] - span[0]).days + 1 if span else 0
        where = f" for {span[0]} … {span[1]} ({n_days} days)" if span else ""
        progress(f"[{i}/{len(phases)}] {label}{where}")
        started = dt.datetime.now()
        result = run_selection(
            defs,
            selection,
            instance=instance,
            partition_range=(span[0].isoformat(), span[1].isoformat()) if span else None,
            tags={"mlops/trigger": "manual"},
        )
        secs = (dt.datetime.now() - started).total_seconds()
        progress(f"[{i}/{len(phases)}] {label}: done in {secs:.0f} s (run {result.run_id[:8]})")
        results.append(result)
    return results
