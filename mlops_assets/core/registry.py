"""The model registry: MLflow tracking runs, registered versions and the champion/challenger
aliases, behind a handful of functions. No Dagster here; mlflow is imported lazily.

Conventions:
* one registered model per model YAML (its `name`); versions carry tags for the training window,
  data fingerprint, trigger, feature service and code version;
* aliases only (`champion`, `challenger`) — the stage APIs are deprecated;
* every version's run holds the native model (`model/`) and, once exported, `onnx/model.onnx`;
* every call names its backend (`tracking_uri`) and goes through an `MlflowClient`: nothing
  here touches MLflow's process-wide state (`mlflow.set_tracking_uri`, the active run, the
  `MLFLOW_TRACKING_URI` variable), so runs in one process or many never see each other's
  backend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import importlib.metadata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_assets.core.skops_import import import_skops

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"
ONNX_ARTIFACT = "onnx/model.onnx"
TRIGGERS = ("manual", "schedule", "drift", "performance", "new_data")


class RegistryError(Exception):
    """A registry operation that must not go ahead (unknown version, missing export, …)."""


def local_tracking_uri(home: Path) -> str:
    return f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_experiment(
    tracking_uri: str, experiment: str, artifact_root: Path | str | None, lock_dir: Path | None
) -> str:
    """Create the backend (once) and the experiment; return the experiment id.

    A fresh SQLite backend runs its migrations on first use, and two processes doing that at
    once can corrupt it for good: creation happens under an exclusive file lock.
    """
    from mlflow import MlflowClient

    lock = _file_lock(lock_dir / "mlflow.lock") if lock_dir else contextlib.nullcontext()
    with lock:
        client = MlflowClient(tracking_uri)
        found = client.get_experiment_by_name(experiment)
        if found is not None:
            return found.experiment_id
        if isinstance(artifact_root, str):  # an object-store URI, e.g. s3://bucket/prefix
            location: str | None = artifact_root
        else:
            location = artifact_root.resolve().as_uri() if artifact_root else None
        return client.create_experiment(experiment, artifact_location=location)


def _pip_requirements(kind: str) -> list[str]:
    """Pinned requirements passed explicitly: MLflow's inference of them costs ~5 s a model."""
    packages = ["scikit-learn", "numpy", "skops"] + (["xgboost-cpu"] if kind == "xgboost" else [])
    pins = []
    for name in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            pins.append(f"{name.replace('-cpu', '')}=={importlib.metadata.version(name)}")
    return pins


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    model_uri: str
    run_url_path: str  # "#/experiments/<id>/runs/<run>" relative to the MLflow UI


def log_candidate(
    tracking_uri: str,
    experiment_id: str,
    *,
    kind: str,
    model: Any,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    input_example: Any,
    artifacts: Mapping[str, str] | None = None,
    features: Sequence[str],
    run_name: str | None = None,
) -> LoggedRun:
    """One MLflow run for one trained candidate: params, metrics and tags in one batch call,
    the model with signature and input example, and small text artifacts (e.g. a model card).

    The input example is a frame with the `features` as column names, so the signature records
    the model's inputs by name and order (the model itself is fitted on a bare float32 matrix)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.models import infer_signature

    client = MlflowClient(tracking_uri)
    run = client.create_run(experiment_id, run_name=run_name, tags={"model_kind": kind})
    run_id = run.info.run_id
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    try:
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now_ms, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        for name, text in (artifacts or {}).items():
            client.log_text(run_id, text, name)
        import pandas as pd

        from mlops_assets.core.training import feature_matrix, predict_proba_positive

        input_example = pd.DataFrame(
            feature_matrix(input_example, features), columns=list(features)
        )
        scores = predict_proba_positive(model, input_example, features)
        signature = infer_signature(input_example, scores)
        model_uri = _log_model(client, experiment_id, run_id, kind, model, signature, input_example)
        client.set_tag(run_id, "logged_model_uri", model_uri)
        client.set_terminated(run_id)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    return LoggedRun(
        run_id=run_id,
        model_uri=model_uri,
        run_url_path=f"#/experiments/{experiment_id}/runs/{run_id}",
    )


def _log_model(
    client: MlflowClient,
    experiment_id: str,
    run_id: str,
    kind: str,
    model: Any,
    signature: Any,
    input_example: Any,
) -> str:
    """Save the model in its flavour's format locally, upload it as an MLflow logged model of
    the run (`models:/m-…`) through the client, and return that URI.

    What `mlflow.<flavour>.log_model` does, minus its reliance on the fluent API's global
    tracking URI and active run."""
    import tempfile

    import mlflow
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    logged = client.create_logged_model(
        experiment_id, name="model", source_run_id=run_id, tags={"model_kind": kind}
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "model"
            if kind == "xgboost":
                mlflow.xgboost.save_model(
                    model,
                    str(local),
                    signature=signature,
                    input_example=input_example,
                    model_format="ubj",
                    pip_requirements=_pip_requirements(kind),
                )
            else:
                import_skops()
                import skops.io

                mlflow.sklearn.save_model(
                    model,
                    str(local),
                    signature=signature,
                    input_example=input_example,
                    serialization_format="skops",
                    # the types of the model we just fitted ourselves: trusted by construction
                    skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
                    pip_requirements=_pip_requirements(kind),
                )
            client.log_model_artifacts(logged.model_id, str(local))
    except BaseException:
        client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    return f"models:/{logged.model_id}"


def register_version(
    tracking_uri: str,
    model_name: str,
    model_uri: str,
    tags: Mapping[str, str],
    *,
    description: str = "",
) -> str:
    """A new version of `model_name` from a logged model (`models:/m-…`), tagged; returns it.
    `description` describes the registered model when this is its first version."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        client.get_registered_model(model_name)
    except Exception:  # RestException(RESOURCE_DOES_NOT_EXIST): first version ever
        client.create_registered_model(model_name, description=description or None)
    model_id = model_uri.removeprefix("models:/")
    logged = client.get_logged_model(model_id)
    # The storage location, not `models:/m-…`: MLflow's SQL registry resolves a `models:/`
    # source through the *global* tracking URI (its own TODO), which we never set.
    version = client.create_model_version(
        model_name,
        source=logged.artifact_location,
        run_id=logged.source_run_id,
        tags=dict(tags),
        model_id=model_id,
    )
    return str(version.version)


def alias_version(tracking_uri: str, model_name: str, alias: str) -> str | None:
    from mlflow import MlflowClient

    try:
        return str(MlflowClient(tracking_uri).get_model_version_by_alias(model_name, alias).version)
    except Exception:  # no such alias, or no such model yet
        return None


def version_info(tracking_uri: str, model_name: str, version: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        mv = client.get_model_version(model_name, version)
    except Exception as err:
        raise RegistryError(f"{model_name} version {version} does not exist") from err
    run = client.get_run(mv.run_id)
    return {
        "version": str(mv.version),
        "run_id": mv.run_id,
        "tags": dict(mv.tags),
        "aliases": list(mv.aliases),
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
    }


def has_onnx(tracking_uri: str, run_id: str, artifact: str = ONNX_ARTIFACT) -> bool:
    from mlflow import MlflowClient

    folder = artifact.split("/")[0]
    files = MlflowClient(tracking_uri).list_artifacts(run_id, folder)
    return any(f.path == artifact for f in files)


def set_tags(tracking_uri: str, model_name: str, version: str, tags: Mapping[str, str]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, str(value))


def move_alias(
    tracking_uri: str,
    model_name: str,
    alias: str,
    version: str,
    *,
    reason: str,
    actor: str,
) -> str | None:
    """Point `alias` at `version` (idempotent) and record the move on the version's tags;
    returns the version the alias pointed at before, if any."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    previous = alias_version(tracking_uri, model_name, alias)
    client.set_registered_model_alias(model_name, alias, version)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    set_tags(
        tracking_uri,
        model_name,
        version,
        {
            f"{alias}_since": now,
            f"{alias}_reason": reason,
            f"{alias}_by": actor,
            f"{alias}_previous": previous or "none",
        },
    )
    return previous


def rollback(
    tracking_uri: str, model_name: str, version: str, *, actor: str, reason: str
) -> str | None:
    """Re-point `champion` at an earlier version that exists and has an ONNX export."""
    info = version_info(tracking_uri, model_name, version)
    if not has_onnx(tracking_uri, info["run_id"]):
        raise RegistryError(
            f"{model_name} version {version} has no ONNX export ({ONNX_ARTIFACT}): "
            "scoring could not serve it"
        )
    previous = move_alias(
        tracking_uri, model_name, CHAMPION, version, reason=f"rollback: {reason}", actor=actor
    )
    set_tags(tracking_uri, model_name, version, {"rollback_from": previous or "none"})
    return previous


def download_onnx(
    tracking_uri: str, run_id: str, dest: Path, artifact: str = ONNX_ARTIFACT
) -> Path:
    from mlflow import MlflowClient

    dest.mkdir(parents=True, exist_ok=True)
    return Path(MlflowClient(tracking_uri).download_artifacts(run_id, artifact, str(dest)))


def load_native_model(tracking_uri: str, model_name: str, version: str, kind: str) -> Any:
    """The native model of a version, for ONNX export only: XGBoost from its own format,
    scikit-learn from skops with the trusted types recorded when it was logged. Scoring never
    calls this — it serves ONNX. The files are fetched through the client from the version's
    logged model, then loaded from a local folder (no MLflow global state involved)."""
    import tempfile

    import mlflow
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri)
    try:
        source = client.get_model_version(model_name, version).source
    except Exception as err:
        raise RegistryError(f"{model_name} version {version} does not exist") from err
    location = (
        client.get_logged_model(source.removeprefix("models:/")).artifact_location
        if source.startswith("models:/")
        else source
    )
    with tempfile.TemporaryDirectory() as tmp:
        local = download_artifacts(artifact_uri=location, dst_path=tmp, tracking_uri=tracking_uri)
        if kind == "xgboost":
            return mlflow.xgboost.load_model(local)
        import_skops()
        return mlflow.sklearn.load_model(local)


def versions(tracking_uri: str, model_name: str) -> Sequence[dict[str, Any]]:
    """Every version with its tags and aliases, newest first (the retraining history's source)."""
    from mlflow import MlflowClient

    client: MlflowClient = MlflowClient(tracking_uri)
    found = client.search_model_versions(f"name = '{model_name}'")
    return sorted(
        (
            {
                "version": str(v.version),
                "run_id": v.run_id,
                "tags": dict(v.tags),
                "aliases": list(v.aliases),
                "created": v.creation_timestamp,
            }
            for v in found
        ),
        key=lambda v: int(v["version"]),
        reverse=True,
    )


@dataclass(frozen=True)
class ServingTarget:
    """What a model's servers should serve: its aliases and deployment state, read in one
    registry call so a server never mixes two states."""

    model_name: str
    champion: str | None
    challenger: str | None
    deployment: str | None  # the `core.deployment.DEPLOYMENT_TAG` JSON, if any


def serving_target(tracking_uri: str, model_name: str) -> ServingTarget:
    from mlflow import MlflowClient

    from mlops_assets.core.deployment import DEPLOYMENT_TAG

    try:
        model = MlflowClient(tracking_uri).get_registered_model(model_name)
    except Exception as err:
        raise RegistryError(f"no registered model {model_name!r}") from err
    aliases = {alias: str(version) for alias, version in (model.aliases or {}).items()}
    return ServingTarget(
        model_name=model_name,
        champion=aliases.get(CHAMPION),
        challenger=aliases.get(CHALLENGER),
        deployment=(model.tags or {}).get(DEPLOYMENT_TAG),
    )


def set_deployment(tracking_uri: str, model_name: str, state_json: str) -> None:
    """Store a model's deployment state (`core.deployment.DeploymentState.to_json()`)."""
    from mlflow import MlflowClient

    from mlops_assets.core.deployment import DEPLOYMENT_TAG

    MlflowClient(tracking_uri).set_registered_model_tag(model_name, DEPLOYMENT_TAG, state_json)


def served_models(tracking_uri: str) -> list[str]:
    """Registered models that have a champion, by name."""
    from mlflow import MlflowClient

    found = MlflowClient(tracking_uri).search_registered_models()
    return sorted(m.name for m in found if CHAMPION in (m.aliases or {}))


def model_tag(tracking_uri: str, model_name: str, key: str) -> str | None:
    """A registered-model tag's value (None: no such tag)."""
    from mlflow import MlflowClient

    return (MlflowClient(tracking_uri).get_registered_model(model_name).tags or {}).get(key)


def set_model_tag(tracking_uri: str, model_name: str, key: str, value: str) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri).set_registered_model_tag(model_name, key, value)
