"""The drift reference of a model version: built once at export from the version's training
rows, stored next to its ONNX file and in its MLflow run, reused by every daily drift report
(so a day's drift costs the same on day 10 as on day 900).

Which rows: the training rows inside the model's scoring population (its SQL predicate) whose
look-back windows were complete; which features: the model's inputs (`ModelInputs`), numeric
ones profiled for PSI/KS, categorical ones for chi².
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.core import monitoring, training
from mlops_assets.core.model_inputs import ModelInputs

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SAMPLE_ROWS = 5_000
MIN_REFERENCE_ROWS = 1_000
ARTIFACT_DIR = "monitoring"
SCORE = "_score"


@dataclass
class Reference:
    profile: Any  # core.drift.ReferenceProfile
    score_profile: Any
    sample: pd.DataFrame  # bounded sample of the reference rows (for Evidently)
    excluded: dict[str, str]


def reference_folder(home: Path, model_name: str, version: str) -> Path:
    return Path(home) / "models" / model_name / f"v{version}" / ARTIFACT_DIR


def build_reference(
    train: pd.DataFrame,
    scores: np.ndarray,
    first_day: dt.date,
    folder: Path,
    inputs: ModelInputs,
    population: str,
    *,
    time_column: str = training.TIME_COLUMN,
) -> dict[str, object]:
    """Profile the population's training rows whose look-back windows were complete; write
    the profile, the score profile and a sample into `folder`; return a summary for metadata.

    The longest window that still leaves `MIN_REFERENCE_ROWS` rows decides the reference
    start; features with a longer window are excluded (and listed)."""
    from mlops_assets.core import drift

    train = train.assign(**{SCORE: scores})
    train = train[monitoring.population_mask(train, population)]
    obs = (train[time_column] - dt.timedelta(days=1)).dt.date
    chosen, usable, excluded = None, [], {}
    for window in sorted({1, *inputs.windows.values()}, reverse=True):
        start = first_day + dt.timedelta(days=window - 1)
        rows = train[obs >= start]
        if len(rows) >= MIN_REFERENCE_ROWS:
            usable, excluded = monitoring.complete_window_features(
                inputs.features, first_day, start, inputs.windows
            )
            chosen = rows
            break
    if chosen is None:
        raise ValueError(
            f"fewer than {MIN_REFERENCE_ROWS} reference rows in the scoring population with "
            f"complete windows (history starts {first_day})"
        )
    numeric = [f for f in usable if f not in inputs.categorical]
    categorical = [f for f in usable if f in inputs.categorical]
    profile = drift.fit_reference(chosen, numeric, categorical)
    score_profile = drift.fit_score_reference(chosen[SCORE].to_numpy())
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


def load_reference(tracking_uri: str, home: Path, model_name: str, version: str) -> Reference:
    """The version's reference, from the data home's cache or downloaded from its run."""
    import pandas as pd

    from mlops_assets.core import drift, registry

    folder = reference_folder(home, model_name, version)
    if not (folder / "reference_profile.json").exists():
        from mlflow import MlflowClient

        info = registry.version_info(tracking_uri, model_name, version)
        MlflowClient(tracking_uri).download_artifacts(
            info["run_id"], ARTIFACT_DIR, str(folder.parent)
        )
    return Reference(
        profile=drift.ReferenceProfile.load(folder / "reference_profile.json"),
        score_profile=drift.ReferenceProfile.load(folder / "score_profile.json"),
        sample=pd.read_parquet(folder / "reference_sample.parquet"),
        excluded=json.loads((folder / "excluded_features.json").read_text()),
    )
