"""Small shared pieces of the model layer's wiring: tags, paths, the trigger of a run."""

from pathlib import Path

import dagster as dg

from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.core import registry

TRIGGER_TAG = "mlops/trigger"
MODEL_TAG = "mlops/model"
STAGE_TAG = "mlops/stage"
# Stages select the model layer across every model (runner phases, jobs): `tag:mlops/stage=…`
TRAINING, EXPORT, SCORING, PERFORMANCE, HISTORY, SERVING = (
    "training",
    "export",
    "scoring",
    "performance",
    "history",
    "serving",  # prediction log and A/B tests: materialized on demand, not by the runner
)
LABEL_DELAY_METADATA = "mlops/label_delay_days"
# run tags a retraining episode puts on the runs it asks for (core.retraining)
TRIGGER_DAY_TAG, ONSET_TAG, ATTEMPT_TAG, EPISODE_TAG = (
    "mlops/trigger_day",
    "mlops/onset_day",
    "mlops/attempt",
    "mlops/episode",
)
ESCALATION_TAG = "mlops/escalation"
PREDICTIONS_SCHEMA = "monitoring"


def tags(spec: ModelSpec, stage: str) -> dict[str, str]:
    return {MODEL_TAG: spec.name, STAGE_TAG: stage}


def training_set_path(home: Path, spec: ModelSpec) -> Path:
    return Path(home) / "models" / spec.name / "training" / "training_set.parquet"


def training_window_path(home: Path, spec: ModelSpec) -> Path:
    """The training set's window choice (core.training_window), next to it."""
    return training_set_path(home, spec).with_name("training_window.json")


def monitoring_dir(home: Path, spec: ModelSpec) -> Path:
    """This model's monitoring files: day summaries (`days/`), retraining history."""
    return Path(home) / "monitoring" / spec.name


def predictions_table(spec: ModelSpec) -> str:
    return f"{PREDICTIONS_SCHEMA}.{spec.name}_predictions"


def trigger_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    trigger = context.run.tags.get(TRIGGER_TAG, "manual")
    return trigger if trigger in registry.TRIGGERS else "manual"


def quote(identifier: str) -> str:
    """A SQL identifier (the schema already restricts it to [A-Za-z0-9_])."""
    return '"' + identifier.replace('"', '""') + '"'
