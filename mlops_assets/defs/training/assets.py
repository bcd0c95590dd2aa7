"""Candidates → challenger (registered version) → approval gate → champion alias.

Each candidate is trained on the point-in-time `training_set` with a time split and logged as
an MLflow run. The best one becomes a new version of the registered model with the
`challenger` alias; a blocking gate compares it with the current champion on the same held-out
window, and only a passing challenger is promoted.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from mlops_assets.core import model_card, promotion, registry, training
from mlops_assets.core.schemas import FEATURE_COLUMNS
from mlops_assets.resources.model_registry import ModelRegistry, code_version
from mlops_assets.settings import Settings

GROUP = "training"
OWNERS = ["team:ml-platform"]
TRAINING_SET = dg.AssetKey("training_set")
CHALLENGER = dg.AssetKey("churn_challenger")
FEATURE_SERVICE = "churn_model"
TRIGGER_TAG = "mlops/trigger"


class SklearnCandidateConfig(dg.Config):
    """Hyperparameters of the scikit-learn candidate (HistGradientBoosting pipeline)."""

    learning_rate: float = training.SklearnParams.learning_rate
    max_iter: int = training.SklearnParams.max_iter
    max_leaf_nodes: int = training.SklearnParams.max_leaf_nodes
    max_depth: int | None = training.SklearnParams.max_depth
    min_samples_leaf: int = training.SklearnParams.min_samples_leaf
    l2_regularization: float = training.SklearnParams.l2_regularization
    test_fraction: float = 0.25
    seed: int = training.DEFAULT_SEED


class XGBoostCandidateConfig(dg.Config):
    """Hyperparameters of the XGBoost candidate."""

    n_estimators: int = training.XGBoostParams.n_estimators
    max_depth: int = training.XGBoostParams.max_depth
    learning_rate: float = training.XGBoostParams.learning_rate
    subsample: float = training.XGBoostParams.subsample
    colsample_bytree: float = training.XGBoostParams.colsample_bytree
    min_child_weight: float = training.XGBoostParams.min_child_weight
    reg_lambda: float = training.XGBoostParams.reg_lambda
    test_fraction: float = 0.25
    seed: int = training.DEFAULT_SEED


def training_set_path(settings: Settings) -> Path:
    return settings.home_path / "training" / "training_set.parquet"


def load_training_set(settings: Settings):
    import pandas as pd

    path = training_set_path(settings)
    if not path.exists():
        raise dg.Failure(f"no training set at {path}: materialize `training_set` first")
    return pd.read_parquet(path)


def _window(df) -> str:
    ts = df[training.TIME_COLUMN]
    return f"{ts.min():%Y-%m-%d} … {ts.max():%Y-%m-%d}"


def trigger_of(context: dg.AssetExecutionContext) -> str:
    trigger = context.run.tags.get(TRIGGER_TAG, "manual")
    return trigger if trigger in registry.TRIGGERS else "manual"


def _train_and_log(
    context: dg.AssetExecutionContext,
    kind: training.ModelKind,
    params: training.CandidateParams,
    config: SklearnCandidateConfig | XGBoostCandidateConfig,
    settings: Settings,
    mlflow: ModelRegistry,
) -> dg.MaterializeResult:
    df = load_training_set(settings)
    fingerprint = training.dataset_fingerprint(df)
    train, test = training.time_split(df, test_fraction=config.test_fraction)
    context.log.info(f"training {kind} on {len(train):,} rows, testing on {len(test):,}")
    model = training.train_candidate(kind, params, train, seed=config.seed)
    metrics = training.evaluate(model, test)
    y_test = test[training.LABEL_COLUMN].to_numpy()
    calibration = training.calibration_table(y_test, training.predict_proba_positive(model, test))
    data = {
        "training window": _window(train),
        "held-out window": _window(test),
        "rows (train / test)": f"{len(train):,} / {len(test):,}",
        "training set fingerprint": fingerprint,
        "feature service": FEATURE_SERVICE,
    }
    card = model_card.render(
        model_name=mlflow.model_name,
        version=None,
        kind=kind,
        data=data,
        metrics=metrics,
        features=FEATURE_COLUMNS,
        calibration=calibration,
    )
    run = registry.log_candidate(
        mlflow.tracking_uri,
        mlflow.experiment_id(),
        kind=kind,
        model=model,
        params={**params.to_dict(), "test_fraction": config.test_fraction, "seed": config.seed},
        metrics=metrics,
        tags={
            "training_set_fingerprint": fingerprint,
            "training_window": _window(train),
            "test_window": _window(test),
            "feature_service": FEATURE_SERVICE,
            "code_version": code_version(),
            "dagster_run_id": context.run.run_id,
            "trigger": trigger_of(context),
        },
        input_example=training.feature_matrix(test.head(5)),
        artifacts={"model_card.md": card},
        run_name=f"{kind}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}",
    )
    return dg.MaterializeResult(
        metadata={
            **{k: float(v) for k, v in metrics.items()},
            "mlflow_run_id": run.run_id,
            "mlflow_run": dg.MetadataValue.url(mlflow.run_link(run.run_id)),
            "training_set_fingerprint": fingerprint,
            "model_card": dg.MetadataValue.md(card),
        }
    )


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"scikit-learn", "mlflow"},
    deps=[TRAINING_SET],
    code_version=training.CODE_VERSION,
)
def candidate_sklearn(
    context: dg.AssetExecutionContext,
    config: SklearnCandidateConfig,
    settings: Settings,
    mlflow: ModelRegistry,
) -> dg.MaterializeResult:
    """scikit-learn churn candidate (HistGradientBoosting pipeline), logged as an MLflow run.

    Trained on the earlier part of the training set, evaluated on the later part (time split)."""
    params = training.SklearnParams(
        **config.model_dump(exclude={"test_fraction", "seed"}), n_threads=1
    )
    return _train_and_log(context, "sklearn", params, config, settings, mlflow)


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"xgboost", "mlflow"},
    deps=[TRAINING_SET],
    code_version=training.CODE_VERSION,
)
def candidate_xgboost(
    context: dg.AssetExecutionContext,
    config: XGBoostCandidateConfig,
    settings: Settings,
    mlflow: ModelRegistry,
) -> dg.MaterializeResult:
    """XGBoost churn candidate, logged as an MLflow run (time split, same held-out window)."""
    params = training.XGBoostParams(**config.model_dump(exclude={"test_fraction", "seed"}))
    return _train_and_log(context, "xgboost", params, config, settings, mlflow)


def _latest_candidate_runs(mlflow: ModelRegistry, fingerprint: str):
    """The newest run of each model kind trained on this exact training set."""
    from mlflow import MlflowClient

    runs = MlflowClient(mlflow.tracking_uri).search_runs(
        [mlflow.experiment_id()],
        filter_string=f"tags.training_set_fingerprint = '{fingerprint}' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50,
    )
    latest = {}
    for run in runs:
        latest.setdefault(run.data.tags.get("model_kind"), run)
    return {k: r for k, r in latest.items() if k in training.MODEL_KINDS}


@dg.asset(
    group_name=GROUP,
    owners=OWNERS,
    kinds={"mlflow"},
    deps=[candidate_sklearn, candidate_xgboost],
)
def churn_challenger(
    context: dg.AssetExecutionContext, settings: Settings, mlflow: ModelRegistry
) -> dg.MaterializeResult:
    """The best candidate (AUC-PR on the held-out window) as a new version of the registered
    model `churn`, with the `challenger` alias. Tags: windows, fingerprint, trigger."""
    df = load_training_set(settings)
    fingerprint = training.dataset_fingerprint(df)
    runs = _latest_candidate_runs(mlflow, fingerprint)
    if not runs:
        raise dg.Failure(f"no finished candidate runs for training set {fingerprint}")
    best_kind, best = max(runs.items(), key=lambda kv: kv[1].data.metrics.get("auc_pr", 0.0))
    tags = {
        "model_kind": best_kind,
        "training_window": best.data.tags.get("training_window", ""),
        "test_window": best.data.tags.get("test_window", ""),
        "training_set_fingerprint": fingerprint,
        "feature_service": FEATURE_SERVICE,
        "trigger": trigger_of(context),
        "code_version": best.data.tags.get("code_version", "unknown"),
        "dagster_run_id": context.run.run_id,
    }
    version = registry.register_version(
        mlflow.tracking_uri, mlflow.model_name, best.data.tags["logged_model_uri"], tags
    )
    registry.move_alias(
        mlflow.tracking_uri,
        mlflow.model_name,
        registry.CHALLENGER,
        version,
        reason=f"best of {sorted(runs)} on AUC-PR",
        actor=f"dagster run {context.run.run_id[:8]}",
    )
    compared = {k: round(r.data.metrics.get("auc_pr", float("nan")), 4) for k, r in runs.items()}
    context.log.info(f"registered {mlflow.model_name} v{version} ({best_kind}); {compared}")
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "model_kind": best_kind,
            "auc_pr": float(best.data.metrics["auc_pr"]),
            "candidates_auc_pr": dg.MetadataValue.json(compared),
            "trigger": tags["trigger"],
            "mlflow_run": dg.MetadataValue.url(mlflow.run_link(best.info.run_id)),
        }
    )


@dg.asset_check(
    asset=CHALLENGER,
    name="approval_gate",
    blocking=True,
    description="Challenger AUC-PR ≥ floor, and ≥ champion - tolerance on the same window.",
)
def approval_gate(
    context: dg.AssetCheckExecutionContext, settings: Settings, mlflow: ModelRegistry
) -> dg.AssetCheckResult:
    from mlops_assets.defs.training.evaluation import champion_auc_pr_on

    version = mlflow.alias_version(registry.CHALLENGER)
    if version is None:
        return dg.AssetCheckResult(passed=False, description="no challenger registered")
    info = mlflow.version_info(version)
    challenger_auc_pr = float(info["metrics"]["auc_pr"])
    champion = mlflow.alias_version(registry.CHAMPION)
    champion_auc_pr = None
    if champion is not None and champion != version:
        df = load_training_set(settings)
        _, test = training.time_split(df, test_fraction=float(info["params"]["test_fraction"]))
        champion_auc_pr = champion_auc_pr_on(mlflow, champion, test, settings)
    decision = promotion.decide(
        challenger_auc_pr,
        champion_auc_pr,
        floor=settings.gate_auc_pr_floor,
        tolerance=settings.gate_tolerance,
    )
    registry.set_tags(
        mlflow.tracking_uri,
        mlflow.model_name,
        version,
        {
            "gate_passed": str(decision.passed).lower(),
            "gate_reasons": "; ".join(decision.reasons),
            "gate_champion_version": champion or "none",
        },
    )
    return dg.AssetCheckResult(
        passed=decision.passed,
        description="; ".join(decision.reasons),
        metadata={
            "challenger_version": version,
            "challenger_auc_pr": challenger_auc_pr,
            "champion_version": champion or "none",
            "champion_auc_pr": champion_auc_pr if champion_auc_pr is not None else "n/a",
            "floor": settings.gate_auc_pr_floor,
            "tolerance": settings.gate_tolerance,
            "decision": dg.MetadataValue.md(decision.to_markdown()),
        },
    )


@dg.asset(group_name=GROUP, owners=OWNERS, kinds={"mlflow"}, deps=[CHALLENGER])
def churn_champion(
    context: dg.AssetExecutionContext, mlflow: ModelRegistry
) -> dg.MaterializeResult:
    """The `champion` alias of `churn`: moved to the challenger once the approval gate passed.

    The previous champion is recorded on the new version's tags (`champion_previous`)."""
    version = mlflow.alias_version(registry.CHALLENGER)
    if version is None:
        raise dg.Failure("no challenger to promote")
    info = mlflow.version_info(version)
    if info["tags"].get("gate_passed") != "true":
        raise dg.Failure(
            f"v{version} has not passed the approval gate: {info['tags'].get('gate_reasons', '-')}"
        )
    previous = registry.move_alias(
        mlflow.tracking_uri,
        mlflow.model_name,
        registry.CHAMPION,
        version,
        reason=info["tags"].get("gate_reasons", "approval gate passed"),
        actor=f"dagster run {context.run.run_id[:8]}",
    )
    context.log.info(f"champion: v{previous or '-'} → v{version}")
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "previous_version": previous or "none",
            "auc_pr": float(info["metrics"]["auc_pr"]),
            "model_kind": info["tags"].get("model_kind", ""),
            "trigger": info["tags"].get("trigger", ""),
        }
    )


training_assets = [candidate_sklearn, candidate_xgboost, churn_challenger, churn_champion]
training_checks = [approval_gate]
