"""ONNX export of the champion: the only model format scoring serves."""

import os
import shutil

import dagster as dg

from mlops_assets.core import registry, training
from mlops_assets.core.ingest import landed_days
from mlops_assets.core.onnx_export import export_onnx
from mlops_assets.core.onnx_runtime import latency_profile, load_onnx_session, parity
from mlops_assets.core.schemas import FEATURE_COLUMNS
from mlops_assets.defs.export.reference import build_reference, reference_folder
from mlops_assets.defs.training.assets import load_training_set
from mlops_assets.defs.training.evaluation import served_onnx_path
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.settings import Settings

KEY = dg.AssetKey("churn_onnx")
PARITY_TOLERANCE = 1e-5
MIN_PARITY_ROWS = 1_000


@dg.asset(
    key=KEY,
    group_name="export",
    owners=["team:ml-platform"],
    kinds={"onnx", "mlflow"},
    deps=[dg.AssetKey("churn_champion")],
    check_specs=[
        dg.AssetCheckSpec(
            "onnx_parity",
            asset=KEY,
            blocking=True,
            description=f"max |p_onnx - p_native| ≤ {PARITY_TOLERANCE} on held-out rows.",
        )
    ],
)
def churn_onnx(
    context: dg.AssetExecutionContext, settings: Settings, mlflow: ModelRegistry
) -> dg.MaterializeResult:
    """Self-contained ONNX file of the current champion (ZipMap off, float32 `features` input),
    logged to the version's MLflow run as `onnx/model.onnx`, with parity and latency measured."""
    version = mlflow.alias_version(registry.CHAMPION)
    if version is None:
        raise dg.Failure("no champion yet: materialize the training assets first")
    info = mlflow.version_info(version)
    kind = info["tags"].get("model_kind", "sklearn")
    native = registry.load_native_model(
        mlflow.tracking_uri, f"models:/{mlflow.model_name}/{version}", kind
    )
    exported = export_onnx(
        native,
        len(FEATURE_COLUMNS),
        metadata={"model_name": mlflow.model_name, "model_version": version},
    )
    # Staged outside the serving cache (`served_onnx_path`, read by scoring and the gate):
    # that one only ever receives a file that passed parity and was published.
    out_dir = settings.home_path / "models" / mlflow.model_name / f"v{version}" / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.onnx"
    path.write_bytes(exported.model_bytes)

    scorer = load_onnx_session(path, allowed_root=settings.home_path)
    df = load_training_set(settings)
    _, test = training.time_split(df, test_fraction=float(info["params"]["test_fraction"]))
    X = training.feature_matrix(test)
    if len(X) < MIN_PARITY_ROWS:  # top up with training rows: parity needs enough rows
        X = training.feature_matrix(df.tail(max(MIN_PARITY_ROWS, len(X))))
    max_diff = parity(native, scorer, X)
    latency = latency_profile(scorer, X)

    passed = max_diff <= PARITY_TOLERANCE
    reference = {}
    if passed:  # only a faithful export is published: rollback and scoring rely on it
        from mlflow import MlflowClient

        client = MlflowClient(mlflow.tracking_uri)
        client.log_artifact(info["run_id"], str(path), "onnx")
        served = served_onnx_path(mlflow.model_name, version, settings)
        served.parent.mkdir(parents=True, exist_ok=True)
        staged = served.with_name(f".{served.name}.{context.run.run_id}")
        shutil.copyfile(path, staged)
        os.replace(staged, served)  # atomic: a scorer never reads a half-written file
        path = served
        # the drift reference is the version's whole training-set window (train + held-out):
        # early in the history only its newest days have complete 30-day windows
        days = landed_days(settings.landing_dir)
        first_day = days[0] if days else df[training.TIME_COLUMN].min().date()
        folder = reference_folder(settings, mlflow.model_name, version)
        reference = build_reference(
            df, scorer.predict_proba(training.feature_matrix(df)), first_day, folder
        )
        client.log_artifacts(info["run_id"], str(folder), "monitoring")
    describe = exported.describe()
    registry.set_tags(  # the sha256 tag describes the published file only
        mlflow.tracking_uri,
        mlflow.model_name,
        version,
        {"onnx_sha256": exported.sha256, "onnx_parity_max_abs_diff": f"{max_diff:.3g}"}
        if passed
        else {"onnx_rejected_parity_max_abs_diff": f"{max_diff:.3g}"},
    )
    context.log.info(f"v{version} exported: {exported.size_bytes:,} bytes, parity {max_diff:.2e}")
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "model_kind": kind,
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": exported.size_bytes,
            "opsets": dg.MetadataValue.json(describe["opsets"]),
            "sha256": exported.sha256,
            "parity_max_abs_diff": max_diff,
            "parity_rows": len(X),
            "drift_reference": dg.MetadataValue.json(reference),
            **{f"latency_{k}": float(v) for k, v in latency.items()},
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="onnx_parity",
                passed=passed,
                description=f"max |Δp| = {max_diff:.2e} on {len(X):,} rows "
                f"(limit {PARITY_TOLERANCE:g})",
                metadata={"max_abs_diff": max_diff, "rows": len(X)},
            )
        ],
    )


export_assets = [churn_onnx]
