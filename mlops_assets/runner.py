"""Run the whole platform from a shell, recorded in the persistent Dagster instance so the UI
shows every run afterwards (the README's first command uses this)."""

import datetime as dt
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.components.model_pipeline.common import label_delay_days
from mlops_assets.core.ingest import landed_days
from mlops_assets.core.process_liveness import current_identity
from mlops_assets.run_recovery import wait_for_free_pools, watch_pool_waits

DAGSTER_YAML = """\
# Written by mlops-assets for the embedded (local) profile: SQLite storage in this folder.
telemetry:
  enabled: false
concurrency:
  pools:
    # DuckDB allows one writer per file: assets in the duckdb_warehouse pool run one at a time.
    default_limit: 1
# A run whose process dies (killed, out of memory, reboot) keeps its pool slot until freed.
# The daemon (`dagster dev`, `dagster-daemon run`) fails runs that never start or outlive
# max_runtime_seconds, and frees the slots of finished runs after
# free_slots_after_run_end_seconds. The code server fails a daemon-launched run whose worker
# process dies; `mlops-assets materialize` fails its own dead runs before it starts.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  max_runtime_seconds: 21600
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 60
"""

# dagster.yaml texts earlier versions wrote: replaced by DAGSTER_YAML; any other text is the
# user's and is left as it is.
PREVIOUS_DAGSTER_YAMLS = (
    """\
# Written by mlops-assets for the embedded (local) profile: SQLite storage in this folder.
telemetry:
  enabled: false
concurrency:
  pools:
    # DuckDB allows one writer per file: assets in the duckdb_warehouse pool run one at a time.
    default_limit: 1
run_monitoring:
  enabled: false
""",
)


def ensure_dagster_home(home: Path, *, progress: Callable[[str], None] | None = None) -> Path:
    """`DAGSTER_HOME` (default `<data home>/dagster`) with our dagster.yaml if it has none, or
    has one an earlier version wrote. A hand-edited one is kept; `progress` hears when it
    leaves dead runs' pool slots held for ever (run monitoring off)."""
    say = progress or (lambda _line: None)
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or home / "dagster").resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or current in PREVIOUS_DAGSTER_YAMLS:
        config.write_text(DAGSTER_YAML)
        if current is not None:
            say(f"{config}: upgraded to the current generated version (run monitoring on)")
    else:
        for problem in monitoring_problems(current):
            say(f"warning: {config} (edited by hand, left as is): {problem}")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def monitoring_problems(dagster_yaml: str) -> list[str]:
    """What in a dagster.yaml leaves the pool slot of a dead run held for ever."""
    import yaml

    try:
        config = yaml.safe_load(dagster_yaml) or {}
    except yaml.YAMLError:
        return []  # Dagster itself reports a broken file
    monitoring = config.get("run_monitoring") if isinstance(config, dict) else None
    monitoring = monitoring if isinstance(monitoring, dict) else {}
    if not monitoring.get("enabled"):
        return [
            "run_monitoring is off, so the daemon never frees the duckdb_warehouse slot of a run "
            "whose process died; set `run_monitoring: {enabled: true, "
            "free_slots_after_run_end_seconds: 60}`"
        ]
    if not monitoring.get("free_slots_after_run_end_seconds"):
        return [
            "run_monitoring.free_slots_after_run_end_seconds is not set, so the daemon never "
            "frees the pool slots of runs that died; set it (e.g. 60)"
        ]
    return []


def run_selection(
    defs: dg.Definitions,
    selection: str,
    *,
    instance: dg.DagsterInstance,
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, str] | None = None,
    raise_on_error: bool = True,
    run_config: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of `selection` (an asset selection string), over a partition range if given:
    the same single-run shape a backfill with `BackfillPolicy.single_run()` takes.
    `run_config` adds op config, e.g. `{"ops": {"training_set": {"config": {...}}}}`.
    The run is tagged with this process's pid, host and start time, so a later run can tell
    whether it died (`mlops_assets.run_recovery`)."""
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.from_string(selection).resolve(graph)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=keys)
    run_tags = {**current_identity().as_tags(), **(tags or {})}
    if partition_range:
        run_tags["dagster/asset_partition_range_start"] = partition_range[0]
        run_tags["dagster/asset_partition_range_end"] = partition_range[1]
    return job.execute_in_process(
        instance=instance,
        run_id=run_id,
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
    # every model's layer (built from defs/models/<model>/defs.yaml), selected by stage tag
    ("models", "tag:mlops/stage=training or tag:mlops/stage=export", False),
    ("scores and drift", "tag:mlops/stage=scoring", True),
    ("performance", "tag:mlops/stage=performance", "labelled"),
    ("history", "tag:mlops/stage=history", False),
)


def materialize_everything(
    defs: dg.Definitions,
    landing_dir: Path,
    *,
    instance: dg.DagsterInstance,
    progress: Callable[[str], None],
    only: Sequence[str] | None = None,
    pool_wait_timeout: float | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Run the phases in order. Before each, wait for its concurrency pools (saying which run
    holds a slot); while it runs, report a step waiting for a slot; give up after
    `pool_wait_timeout` seconds of waiting (None: wait for ever)."""
    unknown = set(only or ()) - {name for name, *_ in PHASES}
    if unknown:
        raise RuntimeError(f"unknown phase(s) {sorted(unknown)}; phases: {[p[0] for p in PHASES]}")
    phases = [p for p in PHASES if not only or p[0] in only]
    days = landed_days(landing_dir)
    if not days:
        raise RuntimeError(f"no landed days in {landing_dir}: run `mlops-assets simulate` first")
    delay = label_delay_days(defs)  # the models' YAML (the longest delay when several)
    labelled = [d for d in days if delay and d + dt.timedelta(days=delay) <= days[-1]]
    spans = {
        True: (days[0], days[-1]),
        "labelled": (labelled[0], labelled[-1]) if labelled else None,
        False: None,
    }
    graph = defs.resolve_asset_graph()
    results = []
    for i, (label, selection, which) in enumerate(phases, start=1):
        span = spans[which]
        if which and span is None:
            progress(f"[{i}/{len(phases)}] {label}: skipped (no day qualifies yet)")
            continue
        n_days = (span[1] - span[0]).days + 1 if span else 0
        where = f" for {span[0]} … {span[1]} ({n_days} days)" if span else ""
        progress(f"[{i}/{len(phases)}] {label}{where}")
        pools = _pools(graph, selection)
        wait_for_free_pools(instance, pools, progress=progress, timeout=pool_wait_timeout)
        started = dt.datetime.now()
        run_id = str(uuid.uuid4())
        with watch_pool_waits(
            instance, run_id, pools, progress=progress, timeout=pool_wait_timeout
        ):
            result = run_selection(
                defs,
                selection,
                instance=instance,
                partition_range=(span[0].isoformat(), span[1].isoformat()) if span else None,
                tags={"mlops/trigger": "manual"},
                run_id=run_id,
            )
        secs = (dt.datetime.now() - started).total_seconds()
        progress(f"[{i}/{len(phases)}] {label}: done in {secs:.0f} s (run {result.run_id[:8]})")
        results.append(result)
    return results


def _pools(graph, selection: str) -> set[str]:
    """The concurrency pools the assets of `selection` run in."""
    keys = dg.AssetSelection.from_string(selection).resolve(graph)
    return {pool for key in keys for pool in (graph.get(key).pools or ())}
