"""Run the whole platform from a shell, recorded in the persistent Dagster instance so the UI
shows every run afterwards (the README's first command uses this): every declared dataset
over the days it has landed, then every declared model (`plan` lists the phases)."""

import datetime as dt
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.components.landing_dataset import DatasetSpec, dataset_specs
from mlops_assets.components.landing_dataset.spec import DATA_STAGE
from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import ModelSpec, model_specs
from mlops_assets.core.process_liveness import current_identity
from mlops_assets.run_recovery import wait_for_free_pools, watch_pool_waits

_SHARED_YAML = """\
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

DAGSTER_YAML = (
    """\
# Written by mlops-assets for the embedded (local) profile: SQLite storage in this folder.
# The event log is Dagster's SQLite storage with its connections kept open between events
# (mlops_assets/instance_storage.py; same files in history/runs/, ~6x faster writes).
event_log_storage:
  module: mlops_assets.instance_storage
  class: PooledSqliteEventLogStorage
"""
    + _SHARED_YAML
)

# The production profile (MLOPS_ENV=prod): the same pools and monitoring, storage on Postgres
# and compute logs on S3 (dagster-aws); every address and secret from the environment
# (`resources/prod_env.py` lists them).
PROD_DAGSTER_YAML = (
    """\
# Written by mlops-assets for the production profile (MLOPS_ENV=prod): Postgres storage,
# compute logs on S3; every address and secret is read from the environment.
storage:
  postgres:
    postgres_url:
      env: MLOPS_DAGSTER_PG_URL
compute_logs:
  module: dagster_aws.s3.compute_log_manager
  class: S3ComputeLogManager
  config:
    bucket:
      env: MLOPS_S3_BUCKET
    prefix: dagster/compute-logs
"""
    + _SHARED_YAML
)

# dagster.yaml texts earlier versions wrote: replaced by DAGSTER_YAML; any other text is the
# user's and is left as it is.
PREVIOUS_DAGSTER_YAMLS = (
    """\
# Written by mlops-assets for the embedded (local) profile: SQLite storage in this folder.
"""
    + _SHARED_YAML,
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
    wanted = _generated_yaml()
    if current is None or current in (*PREVIOUS_DAGSTER_YAMLS, DAGSTER_YAML, PROD_DAGSTER_YAML):
        if current != wanted:
            config.write_text(wanted)
            if current is not None:
                say(f"{config}: upgraded to the current generated version for this profile")
    else:
        for problem in monitoring_problems(current):
            say(f"warning: {config} (edited by hand, left as is): {problem}")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def _generated_yaml() -> str:
    """The dagster.yaml of the selected profile; prod checks its variables first."""
    from mlops_assets.profile import deployment_env

    if deployment_env() != "prod":
        return DAGSTER_YAML
    from mlops_assets.resources.prod_env import require_prod_env

    require_prod_env(os.environ)
    return PROD_DAGSTER_YAML


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


# The kinds of phase of a full run, in order. Data phases run per dataset, model phases per
# model; `--phase KIND` runs a kind for every dataset or model, `--phase KIND:NAME` for one.
PHASE_KINDS = (
    "data",
    "feature registry",
    "online features",
    "models",
    "scores and drift",
    "performance",
    "history",
    "cost",
)
NONE, DAYS, LABELLED, TODAY = "none", "days", "labelled", "today"


@dataclass(frozen=True)
class Phase:
    """One run of a full materialization: `selection` over a partition span (`DAYS`: the
    subject's days, `LABELLED`: its days whose delayed labels have landed, `TODAY`: today's
    UTC day, `NONE`: unpartitioned) for one dataset or model (`subject`; None for what they
    share)."""

    kind: str
    subject: str | None
    selection: str
    span: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.subject}" if self.subject else self.kind


def plan(datasets: Sequence[DatasetSpec], models: Sequence[ModelSpec]) -> list[Phase]:
    """Every phase, in order: each dataset's data, the shared Feast registry, each dataset's
    online features, then each model's training + export, scores and drift, delayed-label
    performance and history; last, what today's runs cost (`cost_report`, by the run clock)."""
    phases = [Phase("data", d.name, d.keys.selection(DATA_STAGE), DAYS) for d in datasets]
    phases.append(Phase("feature registry", None, "key:feast_registry", NONE))
    phases += [
        Phase("online features", d.name, f"key:{d.keys.online_features.to_user_string()}", DAYS)
        for d in datasets
        if d.features.online_views
    ]
    for m in models:
        model = f"tag:{common.MODEL_TAG}={m.name}"
        stage = f"tag:{common.STAGE_TAG}="
        training = f"{stage}{common.TRAINING} or {stage}{common.EXPORT}"
        phases += [
            Phase("models", m.name, f"{model} and ({training})", NONE),
            Phase("scores and drift", m.name, f"{model} and {stage}{common.SCORING}", DAYS),
            Phase("performance", m.name, f"{model} and {stage}{common.PERFORMANCE}", LABELLED),
            Phase("history", m.name, f"{model} and {stage}{common.HISTORY}", NONE),
        ]
    if models:
        phases.append(Phase("cost", None, "key:cost_report", TODAY))
    return phases


def _select(phases: list[Phase], only: Sequence[str] | None) -> list[Phase]:
    if not only:
        return phases
    names = {p.name for p in phases} | {p.kind for p in phases}
    unknown = sorted(set(only) - names)
    if unknown:
        raise RuntimeError(
            f"unknown phase(s) {unknown}; phases: {list(PHASE_KINDS)}, or one of them for one "
            f"dataset or model: {[p.name for p in phases if p.subject]}"
        )
    return [p for p in phases if p.name in only or p.kind in only]


def _spans(
    phase: Phase, days: dict[str, list[dt.date]], models: dict[str, ModelSpec]
) -> tuple[tuple[dt.date, dt.date] | None, str | None]:
    """(partition span or None, why the phase is skipped or None)."""
    if phase.kind == "feature registry":
        return None, None if any(days.values()) else "no dataset has landed a day"
    if phase.span == TODAY:  # the runs made today, whatever simulated days they covered
        today = dt.datetime.now(dt.UTC).date()
        return (today, today), None
    if phase.subject in days:  # a dataset's phase
        landed = days[phase.subject]
        return ((landed[0], landed[-1]), None) if landed else (None, "no day landed yet")
    model = models[phase.subject]
    landed = days.get(model.dataset, [])
    if not landed:
        return None, f"dataset {model.dataset} has landed no day yet"
    delay = dt.timedelta(days=model.labels.delay_days)
    if landed[0] + delay > landed[-1]:
        return None, (
            f"no label yet (labels land {model.labels.delay_days} days after a day; "
            f"{model.dataset} holds {landed[0]} … {landed[-1]})"
        )
    scored = [d for d in landed if d >= model.partitions.start_date]
    if phase.span == NONE:
        return None, None
    if phase.span == LABELLED:
        scored = [d for d in scored if d + delay <= landed[-1]]
    if not scored:
        return (
            None,
            f"no {model.name} day qualifies yet (partitions from {model.partitions.start_date})",
        )
    return (scored[0], scored[-1]), None


def materialize_everything(
    defs: dg.Definitions,
    landing_dir: Path,
    *,
    instance: dg.DagsterInstance,
    progress: Callable[[str], None],
    only: Sequence[str] | None = None,
    pool_wait_timeout: float | None = None,
    datasets: Sequence[DatasetSpec] | None = None,
    models: Sequence[ModelSpec] | None = None,
    bootstrap_reason: str | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Run the phases (`plan`) in order, each dataset over the days it has landed and each
    model over its dataset's days (performance: the days whose labels have landed, by the
    model's own label delay). Before each phase, wait for its concurrency pools (saying which
    run holds a slot); while it runs, report a step waiting for a slot; give up after
    `pool_wait_timeout` seconds of waiting (None: wait for ever). `datasets` / `models`
    default to every declared one (their YAMLs). `bootstrap_reason`: a model with no champion
    yet may be promoted on a held-out window below the gate's evidence minimum, the reason
    recorded on the version (the challenger's `bootstrap` config)."""
    datasets = list(dataset_specs() if datasets is None else datasets)
    models = list(model_specs() if models is None else models)
    phases = _select(plan(datasets, models), only)
    days = {d.name: d.landed_days(landing_dir) for d in datasets}
    if not any(days.values()):
        raise RuntimeError(
            f"no landed days in {landing_dir}: run `mlops-assets simulate` (or "
            "`mlops-assets replay-cdnow`) first"
        )
    by_name = {m.name: m for m in models}
    graph = defs.resolve_asset_graph()
    results = []
    for i, phase in enumerate(phases, start=1):
        label = phase.name
        span, skipped = _spans(phase, days, by_name)
        if skipped:
            progress(f"[{i}/{len(phases)}] {label}: skipped ({skipped})")
            continue
        n_days = (span[1] - span[0]).days + 1 if span else 0
        where = f" for {span[0]} … {span[1]} ({n_days} days)" if span else ""
        progress(f"[{i}/{len(phases)}] {label}{where}")
        pools = _pools(graph, phase.selection)
        wait_for_free_pools(instance, pools, progress=progress, timeout=pool_wait_timeout)
        started = dt.datetime.now()
        run_id = str(uuid.uuid4())
        with watch_pool_waits(
            instance, run_id, pools, progress=progress, timeout=pool_wait_timeout
        ):
            result = run_selection(
                defs,
                phase.selection,
                instance=instance,
                partition_range=(span[0].isoformat(), span[1].isoformat()) if span else None,
                tags={"mlops/trigger": "manual"},
                run_id=run_id,
                run_config=bootstrap_config(by_name[phase.subject], bootstrap_reason)
                if phase.kind == "models" and bootstrap_reason
                else None,
            )
        secs = (dt.datetime.now() - started).total_seconds()
        progress(f"[{i}/{len(phases)}] {label}: done in {secs:.0f} s (run {result.run_id[:8]})")
        results.append(result)
    return results


def bootstrap_config(model: ModelSpec, reason: str) -> dict[str, Any]:
    """Run config of a models phase whose first model is bootstrapped (see the gate)."""
    op = model.keys.challenger.to_python_identifier()
    return {"ops": {op: {"config": {"bootstrap": True, "bootstrap_reason": reason}}}}


def _pools(graph, selection: str) -> set[str]:
    """The concurrency pools the assets of `selection` run in."""
    keys = dg.AssetSelection.from_string(selection).resolve(graph)
    return {pool for key in keys for pool in (graph.get(key).pools or ())}
