"""The drift reference of a model version: built once at export from the version's training
rows, stored next to its ONNX file and in its MLflow run, reused by every daily drift report
(so a day's drift costs the same on day 10 as on day 900)."""

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.core import monitoring, training
from mlops_assets.core.schemas import CATEGORICAL_FEATURES, FEATURE_COLUMNS
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.settings import Settings

SAMPLE_ROWS = 5_000
MIN_REFERENCE_ROWS = 1_000
ARTIFACT_DIR = "monitoring"


@dataclass
class Reference:
    profile: object  # core.drift.ReferenceProfile
    score_profile: object
    sample: object  # pandas DataFrame: bounded sample of the reference rows (for Evidently)
    excluded: dict[str, str]


def _folder(settings: Settings, model_name: str, version: str) -> Path:
    return settings.home_path / "models" / model_name / f"v{version}" / ARTIFACT_DIR


def build_reference(train, scores, first_day: dt.date, folder: Path) -> dict[str, object]:
    """Profile the training rows whose look-back windows were complete; write the profile,
    the score profile and a sample into `folder`; return a summary for metadata."""
    from mlops_assets.core import drift

    train = train.assign(_score=scores)
    train = train[monitoring.is_active(train)]
    obs = (train[training.TIME_COLUMN] - dt.timedelta(days=1)).dt.date
    chosen, excluded = None, {}
    for window in sorted(set(monitoring.FEATURE_WINDOWS.values()), reverse=True):
        start = first_day + dt.timedelta(days=window - 1)
        rows = train[obs >= start]
        if len(rows) >= MIN_REFERENCE_ROWS:
            usable, excluded = monitoring.complete_window_features(
                FEATURE_COLUMNS, first_day, start
            )
            chosen = rows
            break
    if chosen is None:
        raise ValueError(
            f"fewer than {MIN_REFERENCE_ROWS} reference rows with complete windows "
            f"(history starts {first_day})"
        )
    numeric = [f for f in usable if f not in CATEGORICAL_FEATURES]
    categorical = [f for f in usable if f in CATEGORICAL_FEATURES]
    profile = drift.fit_reference(chosen, numeric, categorical)
    score_profile = drift.fit_score_reference(chosen["_score"].to_numpy())
    folder.mkdir(parents=True, exist_ok=True)
    profile.save(folder / "reference_profile.json")
    score_profile.save(folder / "score_profile.json")
    sample = chosen.sample(min(SAMPLE_ROWS, len(chosen)), random_state=0)
    sample[[*usable]].to_parquet(folder / "reference_sample.parquet", index=False)
    (folder / "excluded_features.json").write_text(json.dumps(excluded, indent=2))
    return {
        "reference_rows": len(chosen),
        "reference_window": f"{obs[chosen.index].min()} … {obs[chosen.index].max()}",
        "excluded_features": excluded,
    }


def load_reference(mlflow: ModelRegistry, version: str, settings: Settings) -> Reference:
    import pandas as pd

    from mlops_assets.core import drift

    folder = _folder(settings, mlflow.model_name, version)
    if not (folder / "reference_profile.json").exists():
        from mlflow import MlflowClient

        info = mlflow.version_info(version)
        MlflowClient(mlflow.tracking_uri).download_artifacts(
            info["run_id"], ARTIFACT_DIR, str(folder.parent)
        )
    return Reference(
        profile=drift.ReferenceProfile.load(folder / "reference_profile.json"),
        score_profile=drift.ReferenceProfile.load(folder / "score_profile.json"),
        sample=pd.read_parquet(folder / "reference_sample.parquet"),
        excluded=json.loads((folder / "excluded_features.json").read_text()),
    )


def reference_folder(settings: Settings, model_name: str, version: str) -> Path:
    return _folder(settings, model_name, version)
