"""ONNX export of the model's champion: the only format scoring serves (+ blocking parity)."""

import os
import shutil
from dataclasses import dataclass

import dagster as dg

from mlops_assets.components.landing_dataset import DatasetSpec
from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.components.model_pipeline.training import (
    load_training_set,
    split_training_set,
    version_inputs,
)
from mlops_assets.core import registry, training
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.settings import Settings

PARITY_TOLERANCE = 1e-5
MIN_PARITY_ROWS = 1_000


def build_onnx(spec: ModelSpec, dataset: DatasetSpec) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.onnx

    @dg.asset(
        key=key,
        group_name=keys.group("export"),
        owners=spec.owners,
        kinds={"onnx", "mlflow"},
        tags=common.tags(spec, common.EXPORT),
        deps=[keys.champion],
        description=(
            f"Self-contained ONNX file of `{spec.name}`'s champion (ZipMap off, float32 "
            "`features` input in the version's input order), logged to the version's MLflow "
            "run as `onnx/model.onnx` with parity and latency measured, plus its drift reference "
            "and the fallback model degraded answers use (`onnx/fallback.onnx`)."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "onnx_parity",
                asset=key,
                blocking=True,
                description="max |p_onnx - p_native| within the tolerance on held-out rows.",
            )
        ],
    )
    def onnx(
        context: dg.AssetExecutionContext, settings: Settings, mlflow: ModelRegistry
    ) -> dg.MaterializeResult:
        version = mlflow.model(spec.name).alias_version(registry.CHAMPION)
        if version is None:
            raise dg.Failure("no champion yet: materialize the training assets first")
        out = export_version(context, settings, mlflow, spec, dataset, version)
        return dg.MaterializeResult(
            metadata=out.metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name="onnx_parity",
                    passed=out.passed,
                    description=out.describe(),
                    metadata={"max_abs_diff": out.max_diff, "rows": out.rows},
                )
            ],
        )

    return onnx


@dataclass(frozen=True)
class Export:
    passed: bool  # parity held: the file is published (version's run, serving cache)
    max_diff: float
    rows: int
    metadata: dict

    def describe(self) -> str:
        return f"max |Δp| = {self.max_diff:.2e} on {self.rows:,} rows (limit {PARITY_TOLERANCE:g})"


def export_version(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    settings: Settings,
    mlflow: ModelRegistry,
    spec: ModelSpec,
    dataset: DatasetSpec,
    version: str,
) -> Export:
    """Export `version` to ONNX, measure parity on held-out rows, and publish it (with its
    drift reference) only when parity holds."""
    from mlflow import MlflowClient

    from mlops_assets.core import drift_reference, evaluation, fallback_model
    from mlops_assets.core.onnx_export import export_onnx
    from mlops_assets.core.onnx_runtime import latency_profile, load_onnx_session, parity

    tolerance = PARITY_TOLERANCE
    handle = mlflow.model(spec.name)
    home = settings.home_path
    info = handle.version_info(version)
    inputs = version_inputs(info)
    features = inputs.features
    kind = info["tags"].get("model_kind", "sklearn")
    native = registry.load_native_model(mlflow.tracking_uri, spec.name, version, kind)
    exported = export_onnx(
        native,
        len(features),
        metadata={
            "model_name": spec.name,
            "model_version": version,
            "feature_service": inputs.feature_service,
            "features": ",".join(features),
        },
    )
    # Staged outside the serving cache (`served_onnx_path`, read by scoring and the gate):
    # that one only ever receives a file that passed parity and was published.
    out_dir = home / "models" / spec.name / f"v{version}" / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    path.write_bytes(exported.model_bytes)

    scorer = load_onnx_session(path, allowed_root=home)
    df, _ = load_training_set(settings, spec)
    missing = [f for f in features if f not in df.columns]
    if missing:
        raise dg.Failure(f"the training set lacks v{version}'s inputs {missing}")
    _, test = split_training_set(settings, spec, df, float(info["params"]["test_fraction"]))
    X = training.feature_matrix(test, features)
    if len(X) < MIN_PARITY_ROWS:  # top up with training rows: parity needs enough rows
        X = training.feature_matrix(df.tail(max(MIN_PARITY_ROWS, len(X))), features)
    max_diff = parity(native, scorer, X, features)
    latency = latency_profile(scorer, X, features=features)

    passed = max_diff <= tolerance
    reference = {}
    if passed:  # only a faithful export is published: rollback and scoring rely on it
        client = MlflowClient(mlflow.tracking_uri)
        client.log_artifact(info["run_id"], str(path), "onnx")
        served = evaluation.served_onnx_path(home, spec.name, version)
        served.parent.mkdir(parents=True, exist_ok=True)
        staged = served.with_name(f".{served.name}.{context.run.run_id}")
        shutil.copyfile(path, staged)
        os.replace(staged, served)  # atomic: a scorer never reads a half-written file
        path = served
        # the drift reference is the version's whole training-set window (train +
        # held-out): early in the history only its newest days have complete windows
        days = dataset.landed_days(settings.landing_dir)
        first_day = days[0] if days else df[training.TIME_COLUMN].min().date()
        folder = drift_reference.reference_folder(home, spec.name, version)
        reference = drift_reference.build_reference(
            df,
            scorer.predict_proba(training.feature_matrix(df, features)),
            first_day,
            folder,
            inputs,
            spec.population.sql,
        )
        client.log_artifacts(info["run_id"], str(folder), drift_reference.ARTIFACT_DIR)
        # the degraded-mode model of this version (stale features, no batch score)
        fallback = fallback_model.build_fallback(
            df, features, test_fraction=float(info["params"]["test_fraction"])
        )
        fallback_path = out_dir / "fallback.onnx"
        fallback_path.write_bytes(fallback.model_bytes)
        client.log_artifact(info["run_id"], str(fallback_path), "onnx")
    describe = exported.describe()
    registry.set_tags(  # the sha256 tag describes the published file only
        mlflow.tracking_uri,
        spec.name,
        version,
        {
            "onnx_sha256": exported.sha256,
            "onnx_parity_max_abs_diff": f"{max_diff:.3g}",
            fallback_model.SHA_TAG: fallback.sha256,
            fallback_model.AUC_PR_TAG: f"{fallback.auc_pr:.4f}",
        }
        if passed
        else {"onnx_rejected_parity_max_abs_diff": f"{max_diff:.3g}"},
    )
    context.log.info(f"v{version} exported: {exported.size_bytes:,} bytes, parity {max_diff:.2e}")
    return Export(
        passed=passed,
        max_diff=max_diff,
        rows=len(X),
        metadata={
            "version": version,
            "model_kind": kind,
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": exported.size_bytes,
            "opsets": dg.MetadataValue.json(describe["opsets"]),
            "sha256": exported.sha256,
            "features": dg.MetadataValue.json(list(features)),
            "parity_max_abs_diff": max_diff,
            "parity_rows": len(X),
            "drift_reference": dg.MetadataValue.json(reference),
            "fallback_auc_pr": fallback.auc_pr if passed else float("nan"),
            **{f"latency_{k}": float(v) for k, v in latency.items()},
        },
    )
