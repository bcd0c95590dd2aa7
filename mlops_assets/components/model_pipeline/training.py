"""The model's training layer: point-in-time training set → one candidate per YAML entry →
challenger (+ blocking approval gate) → champion; and the rollback job.

Every asset body reads its inputs, calls `core`, and writes metadata; the model's inputs are
the Feast service's fields, resolved from the registry when the training set is built and
carried from there (parquet metadata → MLflow run tag + signature → version tag).
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import create_model

from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import Candidate, ModelSpec
from mlops_assets.core import model_card, model_inputs, promotion, registry, training
from mlops_assets.resources.feature_store import FeatureStoreResource
from mlops_assets.resources.model_registry import ModelRegistry, code_version
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings

FEATURES_REGISTRY = dg.AssetKey("feast_registry")


class TrainingSetConfig(dg.Config):
    """Which labelled observations make the training set (defaults: the model's YAML)."""

    window_days: int | None = None  # newest N observation days; None = the YAML's window
    label_arrived_until: str | None = None  # YYYY-MM-DD: only labels known by then (replays)
    onset_day: str | None = None  # YYYY-MM-DD: favour data after it (default: the run's tag)


def _window(df) -> str:
    ts = df[training.TIME_COLUMN]
    return f"{ts.min():%Y-%m-%d} … {ts.max():%Y-%m-%d}"


def split_training_set(settings: Settings, spec: ModelSpec, df, test_fraction: float):
    """(train, test) of the current training set, as its window choice says."""
    from mlops_assets.core import training_window

    choice = training_window.load(common.training_window_path(settings.home_path, spec))
    try:
        return training_window.split(df, choice, test_fraction, training.TIME_COLUMN)
    except ValueError as err:
        raise dg.Failure(f"{spec.name}: {err}") from err


def window_choice(settings: Settings, spec: ModelSpec):
    from mlops_assets.core import training_window

    return training_window.load(common.training_window_path(settings.home_path, spec))


def load_training_set(settings: Settings, spec: ModelSpec):
    """(frame, inputs) of the model's current training set, or a clear failure."""
    path = common.training_set_path(settings.home_path, spec)
    try:
        return model_inputs.load_training_set(path)
    except FileNotFoundError as err:
        raise dg.Failure(f"{err}: materialize `{spec.keys.training_set.to_user_string()}`") from err


def build_training_set(spec: ModelSpec) -> dg.AssetsDefinition:
    keys = spec.keys
    key = keys.training_set
    labels = spec.labels
    q = common.quote

    @dg.asset(
        key=key,
        group_name=keys.group("training"),
        owners=spec.owners,
        kinds={"feast", "duckdb", "parquet"},
        tags=common.tags(spec, common.TRAINING),
        deps=[FEATURES_REGISTRY, dg.AssetKey(spec.features.mart), dg.AssetKey(labels.dbt_model)],
        pool=WAREHOUSE_POOL,
        description=(
            f"Point-in-time training rows of `{spec.name}`: each label of "
            f"`{labels.dbt_model}` with the `{spec.features.service}` feature service's values "
            "as they were then — never later. Parquet in the data home; the inputs resolved "
            "from the Feast registry are recorded in the file."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                "training_set_null_rate",
                asset=key,
                blocking=True,
                description="Share of missing feature values stays under the limit.",
            )
        ],
    )
    def training_set(
        context: dg.AssetExecutionContext,
        config: TrainingSetConfig,
        settings: Settings,
        warehouse: Warehouse,
        feast: FeatureStoreResource,
    ) -> dg.MaterializeResult:
        where, params = "true", []
        if config.label_arrived_until:
            where = f"{q(labels.arrived_column)} <= ?"
            params = [dt.date.fromisoformat(config.label_arrived_until)]
        sql = (
            f"SELECT {q(spec.entity.join_key)}, {q(labels.timestamp_column)} AS event_timestamp, "
            f"{q(labels.column)} AS {training.LABEL_COLUMN} FROM main.{q(labels.dbt_model)} "
            f"WHERE {where} ORDER BY event_timestamp, {q(spec.entity.join_key)}"
        )
        with warehouse.connect(read_only=True) as con:
            frame = con.execute(sql, params).df()
        if frame.empty:
            raise dg.Failure(
                f"no labels in {labels.dbt_model} yet: they arrive {labels.delay_days} days "
                "after a day lands"
            )
        frame["event_timestamp"] = frame["event_timestamp"].dt.tz_convert("UTC")
        window = config.window_days or spec.training.window_days
        if window:
            newest = frame["event_timestamp"].max()
            frame = frame[frame["event_timestamp"] > newest - dt.timedelta(days=window)]
        from mlops_assets.core import feature_store

        store = feast.store()
        try:
            inputs = model_inputs.from_feature_service(store, spec.features.service)
        except model_inputs.FeatureServiceNotFound as err:
            raise dg.Failure(f"{spec.name}: {err}") from err
        from mlops_assets.core import training_window

        onset_text = config.onset_day or context.run.tags.get(common.ONSET_TAG)
        onset = dt.date.fromisoformat(onset_text) if onset_text else None
        frame, choice = training_window.choose(
            frame, onset, spec.training.min_post_onset_days, "event_timestamp"
        )
        context.log.info(f"training window: {choice.choice}: {choice.reason}")
        frame = feature_store.training_set(store, frame, spec.features.service)
        path = common.training_set_path(settings.home_path, spec)
        model_inputs.save_training_set(frame, inputs, path)
        training_window.save(choice, common.training_window_path(settings.home_path, spec))
        fingerprint = training.dataset_fingerprint(frame)
        null_rates = feature_store.null_rates(frame, list(inputs.features))
        worst = max(null_rates.values()) if null_rates else 0.0
        context.log.info(f"{len(frame):,} rows × {len(inputs.features)} inputs → {path}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(frame),
                "path": dg.MetadataValue.path(str(path)),
                "fingerprint": fingerprint,
                "window": _window(frame),
                "window_choice": choice.choice,
                "window_reason": choice.reason,
                "positive_rate": float(frame[training.LABEL_COLUMN].mean()),
                "model_inputs": dg.MetadataValue.json(model_inputs.as_metadata(inputs)),
                "null_rates": dg.MetadataValue.json(null_rates),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="training_set_null_rate",
                    passed=worst <= settings.max_missing_rate,
                    description=f"worst feature null rate {worst:.2%} "
                    f"(limit {settings.max_missing_rate:.0%})",
                    metadata={"worst_null_rate": worst},
                )
            ],
        )

    return training_set


def _config_class(spec: ModelSpec, candidate: Candidate) -> type[dg.Config]:
    """A Launchpad config class whose defaults are the YAML's hyperparameters."""
    fields: dict[str, Any] = {}
    for name, info in type(candidate.params).model_fields.items():
        fields[name] = (info.annotation, getattr(candidate.params, name))
    title = f"{spec.name.title()}{candidate.kind.title()}CandidateConfig"
    config = create_model(title, __base__=dg.Config, **fields)
    config.__doc__ = f"Hyperparameters of the {candidate.kind} candidate (defaults: the YAML)."
    return config


def _core_params(kind: str, values: dict[str, Any]) -> training.CandidateParams:
    if kind == "sklearn":
        return training.SklearnParams(**values, n_threads=1)
    return training.XGBoostParams(**values)


def build_candidate(spec: ModelSpec, candidate: Candidate) -> dg.AssetsDefinition:
    keys = spec.keys
    kind = candidate.kind
    config_class = _config_class(spec, candidate)
    library = "scikit-learn" if kind == "sklearn" else "xgboost"

    def candidate_asset(
        context: dg.AssetExecutionContext, settings: Settings, mlflow: ModelRegistry
    ) -> dg.MaterializeResult:
        config = context.op_execution_context.op_config or {}
        values = config_class(**config).model_dump()
        params = _core_params(kind, values)
        model_handle = mlflow.model(spec.name)
        df, inputs = load_training_set(settings, spec)
        features = inputs.features
        fingerprint = training.dataset_fingerprint(df)
        test_fraction, seed = spec.training.test_fraction, spec.training.seed
        train, test = split_training_set(settings, spec, df, test_fraction)
        choice = window_choice(settings, spec)
        context.log.info(f"training {kind} on {len(train):,} rows, testing on {len(test):,}")
        model = training.train_candidate(kind, params, train, features, seed=seed)
        metrics = training.evaluate(model, test, features)
        y_test = test[training.LABEL_COLUMN].to_numpy()
        calibration = training.calibration_table(
            y_test, training.predict_proba_positive(model, test, features)
        )
        data = {
            "training window": _window(train),
            "held-out window": _window(test),
            "rows (train / test)": f"{len(train):,} / {len(test):,}",
            "training set fingerprint": fingerprint,
            "feature service": inputs.feature_service,
        }
        baseline = _baseline(spec, test)
        card = model_card.render(
            model_name=spec.name,
            version=None,
            kind=kind,
            data=data,
            metrics=metrics,
            features=features,
            calibration=calibration,
            baseline=baseline,
        )
        baseline_params = {"baseline_score": spec.baseline.score} if spec.baseline else {}
        run = registry.log_candidate(
            mlflow.tracking_uri,
            model_handle.experiment_id(),
            kind=kind,
            model=model,
            params={
                **params.to_dict(),
                "test_fraction": test_fraction,
                "seed": seed,
                **baseline_params,
            },
            metrics={**metrics, **_prefixed(baseline)},
            tags={
                "training_set_fingerprint": fingerprint,
                "training_window": _window(train),
                "test_window": _window(test),
                "feature_service": inputs.feature_service,
                model_inputs.MLFLOW_TAG: inputs.to_json(),
                "code_version": code_version(),
                "dagster_run_id": context.run.run_id,
                "trigger": common.trigger_of(context),
                **(choice.tags() if choice else {}),
            },
            input_example=test.head(5),
            features=features,
            artifacts={"model_card.md": card, "model_inputs.json": inputs.to_json()},
            run_name=f"{kind}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}",
        )
        return dg.MaterializeResult(
            metadata={
                **{k: float(v) for k, v in metrics.items()},
                **_prefixed(baseline),
                "mlflow_run_id": run.run_id,
                "mlflow_run": dg.MetadataValue.url(model_handle.run_link(run.run_id)),
                "training_set_fingerprint": fingerprint,
                "features": dg.MetadataValue.json(list(features)),
                "model_card": dg.MetadataValue.md(card),
            }
        )

    return dg.asset(
        key=keys.candidate(kind),
        group_name=keys.group("training"),
        owners=spec.owners,
        kinds={library, "mlflow"},
        tags=common.tags(spec, common.TRAINING),
        deps=[keys.training_set],
        code_version=training.CODE_VERSION,
        config_schema=config_class.to_config_schema(),
        description=(
            f"{library} candidate of `{spec.name}`, logged as an MLflow run: trained on the "
            "earlier part of the training set, evaluated on the later part (time split)."
        ),
    )(candidate_asset)


def _baseline(spec: ModelSpec, test) -> model_card.Baseline | None:
    """The YAML's baseline rule scored on the candidate's held-out rows (None without one)."""
    if spec.baseline is None:
        return None
    try:
        metrics = training.evaluate_baseline(test, spec.baseline.score)
    except Exception as err:  # a wrong expression: name it, with the columns it may use
        raise dg.Failure(
            f"{spec.name}: baseline.score {spec.baseline.score!r} cannot be scored on the "
            f"held-out rows ({err}); columns: {sorted(map(str, test.columns))}"
        ) from err
    return model_card.Baseline(
        name=spec.baseline.name,
        description=spec.baseline.description,
        score=spec.baseline.score,
        metrics=metrics,
    )


def _prefixed(baseline: model_card.Baseline | None) -> dict[str, float]:
    return {} if baseline is None else {f"baseline_{k}": v for k, v in baseline.metrics.items()}


def _latest_candidate_runs(mlflow: ModelRegistry, spec: ModelSpec, fingerprint: str):
    """The newest run of each model kind trained on this exact training set."""
    from mlflow import MlflowClient

    runs = MlflowClient(mlflow.tracking_uri).search_runs(
        [mlflow.model(spec.name).experiment_id()],
        filter_string=f"tags.training_set_fingerprint = '{fingerprint}' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50,
    )
    wanted = {c.kind for c in spec.candidates}
    latest = {}
    for run in runs:
        latest.setdefault(run.data.tags.get("model_kind"), run)
    return {k: r for k, r in latest.items() if k in wanted}


class ChallengerConfig(dg.Config):
    """`bootstrap`: the first model may be gated on a held-out window below the evidence
    minimum — a deliberate, recorded choice (version tags `bootstrap`, `bootstrap_reason`)."""

    bootstrap: bool = False
    bootstrap_reason: str = ""


EPISODE_TAGS = {  # run tag → version tag: which episode and attempt a version came from
    common.TRIGGER_DAY_TAG: "trigger_day",
    common.ONSET_TAG: "onset_day_of_episode",
    common.ATTEMPT_TAG: "attempt",
    common.EPISODE_TAG: "episode",
}


def build_challenger(spec: ModelSpec) -> dg.AssetsDefinition:
    keys = spec.keys
    metric = spec.gate.metric

    @dg.asset(
        key=keys.challenger,
        group_name=keys.group("training"),
        owners=spec.owners,
        kinds={"mlflow"},
        tags=common.tags(spec, common.TRAINING),
        deps=[keys.candidate(c.kind) for c in spec.candidates],
        description=(
            f"The best candidate ({metric} on the held-out window) as a new version of the "
            f"registered model `{spec.name}`, with the `challenger` alias."
        ),
    )
    def challenger(
        context: dg.AssetExecutionContext,
        config: ChallengerConfig,
        settings: Settings,
        mlflow: ModelRegistry,
    ) -> dg.MaterializeResult:
        if config.bootstrap and not config.bootstrap_reason.strip():
            raise dg.Failure("bootstrap needs a bootstrap_reason (it is kept on the version)")
        from mlops_assets.core import input_ranges

        df, inputs = load_training_set(settings, spec)
        fingerprint = training.dataset_fingerprint(df)
        runs = _latest_candidate_runs(mlflow, spec, fingerprint)
        if not runs:
            raise dg.Failure(f"no finished candidate runs for training set {fingerprint}")
        best_kind, best = max(runs.items(), key=lambda kv: kv[1].data.metrics.get(metric, 0.0))
        tags = {
            "model_kind": best_kind,
            "training_window": best.data.tags.get("training_window", ""),
            "test_window": best.data.tags.get("test_window", ""),
            "training_set_fingerprint": fingerprint,
            "feature_service": inputs.feature_service,
            model_inputs.MLFLOW_TAG: best.data.tags.get(model_inputs.MLFLOW_TAG, inputs.to_json()),
            # what the prediction service accepts from callers who send feature values
            input_ranges.INPUT_RANGES_TAG: input_ranges.to_json(
                input_ranges.input_ranges(
                    {
                        f: df[f].to_numpy(dtype="float64", na_value=float("nan"))
                        for f in inputs.numeric
                    },
                    inputs.numeric,
                    spec.outputs.range_sigmas,
                )
            ),
            "trigger": common.trigger_of(context),
            "code_version": best.data.tags.get("code_version", "unknown"),
            "dagster_run_id": context.run.run_id,
            **{
                name: context.run.tags[tag]
                for tag, name in EPISODE_TAGS.items()
                if tag in context.run.tags
            },
            **{
                k: best.data.tags[k]
                for k in ("training_window_choice", "training_window_reason", "onset_day")
                if k in best.data.tags
            },
            **(
                {"bootstrap": "true", "bootstrap_reason": config.bootstrap_reason[:500]}
                if config.bootstrap
                else {}
            ),
        }
        version = registry.register_version(
            mlflow.tracking_uri,
            spec.name,
            best.data.tags["logged_model_uri"],
            tags,
            description=spec.description,
        )
        registry.move_alias(
            mlflow.tracking_uri,
            spec.name,
            registry.CHALLENGER,
            version,
            reason=f"best of {sorted(runs)} on {metric}",
            actor=f"dagster run {context.run.run_id[:8]}",
        )
        compared = {k: round(r.data.metrics.get(metric, float("nan")), 4) for k, r in runs.items()}
        context.log.info(f"registered {spec.name} v{version} ({best_kind}); {compared}")
        baseline = best.data.metrics.get(f"baseline_{metric}")
        return dg.MaterializeResult(
            metadata={
                "version": version,
                "model_kind": best_kind,
                metric: float(best.data.metrics[metric]),
                **({f"baseline_{metric}": float(baseline)} if baseline is not None else {}),
                f"candidates_{metric}": dg.MetadataValue.json(compared),
                "trigger": tags["trigger"],
                "mlflow_run": dg.MetadataValue.url(
                    mlflow.model(spec.name).run_link(best.info.run_id)
                ),
            }
        )

    return challenger


def version_inputs(info: dict[str, Any]) -> model_inputs.ModelInputs:
    """The inputs a registered version was trained on (its tag, written at training)."""
    raw = info["tags"].get(model_inputs.MLFLOW_TAG)
    if not raw:
        raise dg.Failure(f"v{info['version']} does not record its model inputs")
    return model_inputs.ModelInputs.from_json(raw)


def build_approval_gate(spec: ModelSpec) -> dg.AssetChecksDefinition:
    gate = spec.gate
    label = {"auc_pr": "AUC-PR", "roc_auc": "ROC-AUC"}[gate.metric]

    @dg.asset_check(
        asset=spec.keys.challenger,
        name="approval_gate",
        blocking=True,
        description=f"Challenger {label} ≥ {gate.floor}, and ≥ champion − {gate.tolerance} on "
        "the same held-out window"
        + (f", and above the baseline rule `{spec.baseline.name}`" if spec.baseline else "")
        + f"; that window holds ≥ {gate.min_test_rows} rows, ≥ {gate.min_test_positives} "
        f"positives and ≥ {gate.min_test_days} days (else: insufficient evidence)"
        + ("; every promotion waits for approval." if gate.require_approval else "."),
        op_tags={"dagster/priority": "1"},
    )
    def approval_gate(
        context: dg.AssetCheckExecutionContext, settings: Settings, mlflow: ModelRegistry
    ) -> dg.AssetCheckResult:
        from mlops_assets.core import evaluation

        handle = mlflow.model(spec.name)
        version = handle.alias_version(registry.CHALLENGER)
        if version is None:
            return dg.AssetCheckResult(passed=False, description="no challenger registered")
        info = handle.version_info(version)
        challenger_value = float(info["metrics"][gate.metric])
        champion = handle.alias_version(registry.CHAMPION)
        champion = None if champion == version else champion
        champion_value = None
        not_compared = None
        df, _ = load_training_set(settings, spec)
        _, test = split_training_set(settings, spec, df, float(info["params"]["test_fraction"]))
        evidence = promotion.Evidence(
            rows=len(test),
            positives=int(test[training.LABEL_COLUMN].sum()),
            days=int(test[training.TIME_COLUMN].dt.floor("D").nunique()),
        )
        if champion is not None:
            champion_inputs = version_inputs(handle.version_info(champion))
            lacking = [f for f in champion_inputs.features if f not in test.columns]
            if lacking:  # the feature service changed: the champion cannot score these rows
                not_compared = (
                    f"champion v{champion} reads inputs the feature service no longer yields "
                    f"({', '.join(lacking)}): not compared, the floor and baseline decide"
                )
            else:
                champion_value = evaluation.version_metric_on(
                    mlflow.tracking_uri,
                    settings.home_path,
                    spec.name,
                    champion,
                    test,
                    champion_inputs.features,
                    metric=gate.metric,
                )
        baseline_value = None
        if spec.baseline is not None:
            recorded = info["metrics"].get(f"baseline_{gate.metric}")
            if recorded is None:
                return dg.AssetCheckResult(
                    passed=False,
                    description=f"v{version} records no baseline {label} (baseline "
                    f"{spec.baseline.name!r} declared): retrain it",
                )
            baseline_value = float(recorded)
        decision = promotion.decide(
            challenger_value,
            champion_value,
            floor=gate.floor,
            tolerance=gate.tolerance,
            metric_label=label,
            baseline=baseline_value,
            baseline_label=spec.baseline.name if spec.baseline else "baseline",
            evidence=evidence,
            min_evidence=gate.evidence_policy(),
            bootstrap=info["tags"].get("bootstrap") == "true" and champion is None,
            require_approval=gate.require_approval,
            approve_below_floor=gate.approve_below_floor,
        )
        if not_compared:
            first = [r for r in decision.reasons if r.startswith("no current champion")]
            decision.reasons[:] = [r for r in decision.reasons if r not in first] + [not_compared]
        choice = window_choice(settings, spec)
        registry.set_tags(
            mlflow.tracking_uri,
            spec.name,
            version,
            {
                "gate_passed": str(decision.passed).lower(),
                "gate_verdict": decision.verdict,
                "gate_reasons": "; ".join(decision.reasons),
                "gate_metric": gate.metric,
                "gate_champion_version": champion or "none",
                "gate_evidence": evidence.describe(),
                "gate_champion_value": "n/a" if champion_value is None else f"{champion_value:.4f}",
            },
        )
        return dg.AssetCheckResult(
            passed=decision.passed,
            description="; ".join(decision.reasons),
            metadata={
                "verdict": decision.verdict,
                "metric": gate.metric,
                "challenger_version": version,
                "challenger_value": challenger_value,
                "champion_version": champion or "none",
                "champion_value": champion_value if champion_value is not None else "n/a",
                "floor": gate.floor,
                "tolerance": gate.tolerance,
                "baseline_value": baseline_value if baseline_value is not None else "n/a",
                "test_rows": evidence.rows,
                "test_positives": evidence.positives,
                "test_days": evidence.days,
                "test_window": info["tags"].get("test_window", ""),
                "training_window_choice": choice.choice if choice else "recent",
                "decision": dg.MetadataValue.md(decision.to_markdown()),
            },
        )

    return approval_gate


def build_champion(spec: ModelSpec) -> dg.AssetsDefinition:
    keys = spec.keys

    @dg.asset(
        key=keys.champion,
        group_name=keys.group("training"),
        owners=spec.owners,
        kinds={"mlflow"},
        tags=common.tags(spec, common.TRAINING),
        deps=[keys.challenger],
        description=(
            f"The `champion` alias of `{spec.name}`: moved to the challenger once the approval "
            "gate passed. The previous champion is recorded on the new version's tags."
        ),
    )
    def champion(context: dg.AssetExecutionContext, mlflow: ModelRegistry) -> dg.MaterializeResult:
        handle = mlflow.model(spec.name)
        version = handle.alias_version(registry.CHALLENGER)
        if version is None:
            raise dg.Failure("no challenger to promote")
        info = handle.version_info(version)
        if info["tags"].get("gate_passed") != "true":
            verdict = info["tags"].get("gate_verdict", "failed").replace("_", " ")
            raise dg.Failure(
                f"v{version} has not passed the approval gate ({verdict}): "
                f"{info['tags'].get('gate_reasons', '-')}"
            )
        previous = registry.move_alias(
            mlflow.tracking_uri,
            spec.name,
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
                spec.gate.metric: float(info["metrics"][spec.gate.metric]),
                "model_kind": info["tags"].get("model_kind", ""),
                "trigger": info["tags"].get("trigger", ""),
            }
        )

    return champion


class RollbackConfig(dg.Config):
    """Which version becomes champion again, and who asks for it and why (kept on the tags)."""

    version: str
    reason: str
    requested_by: str


def build_rollback_job(spec: ModelSpec) -> dg.JobDefinition:
    keys = spec.keys

    @dg.op(name=keys.name("rollback_champion"), tags={"kind": "mlflow"})
    def rollback_champion(
        context: dg.OpExecutionContext, config: RollbackConfig, mlflow: ModelRegistry
    ) -> None:
        """Re-point `champion` to an earlier version that exists and has an ONNX export."""
        if not config.reason.strip() or not config.requested_by.strip():
            raise dg.Failure("a rollback needs a reason and who requested it")
        try:
            previous = registry.rollback(
                mlflow.tracking_uri,
                spec.name,
                config.version,
                actor=config.requested_by,
                reason=config.reason,
            )
        except registry.RegistryError as err:
            raise dg.Failure(str(err)) from err
        context.log.info(f"champion rolled back: v{previous or '-'} → v{config.version}")
        context.log_event(
            dg.AssetObservation(
                asset_key=keys.champion,
                metadata={
                    "version": config.version,
                    "previous_version": previous or "none",
                    "rollback_reason": config.reason,
                    "requested_by": config.requested_by,
                },
            )
        )

    @dg.job(
        name=keys.name("rollback_job"),
        description=f"Move `{spec.name}`'s `champion` alias back to an earlier, exported version.",
        tags=common.tags(spec, "rollback"),
    )
    def rollback_job() -> None:
        rollback_champion()

    return rollback_job


class ApproveConfig(dg.Config):
    """Which gated version a person approves, why, and who they are (kept on the tags)."""

    version: str
    reason: str
    approver: str


APPROVABLE = ("pending_approval",)


def build_approve_job(spec: ModelSpec, dataset) -> dg.JobDefinition:
    """`<model>_approve_model_job`: a person promotes a version the gate left pending."""
    from mlops_assets.components.model_pipeline.export import export_version

    keys = spec.keys

    @dg.op(name=keys.name("approve_model"), tags={"kind": "mlflow"})
    def approve_model(
        context: dg.OpExecutionContext,
        config: ApproveConfig,
        settings: Settings,
        mlflow: ModelRegistry,
    ) -> None:
        """Export the version to ONNX (parity must hold), then move `champion` to it; refuses
        unknown versions, versions the gate did not leave pending, and failed exports."""
        if not config.reason.strip() or not config.approver.strip():
            raise dg.Failure("an approval needs a reason and who approves")
        handle = mlflow.model(spec.name)
        known = {v["version"] for v in registry.versions(mlflow.tracking_uri, spec.name)}
        if config.version not in known:
            raise dg.Failure(
                f"{spec.name} has no version {config.version!r} (known: {sorted(known, key=int)})"
            )
        info = handle.version_info(config.version)
        verdict = info["tags"].get("gate_verdict", "not evaluated")
        if verdict not in APPROVABLE:
            raise dg.Failure(
                f"v{config.version}'s gate verdict is {verdict!r}: only a version pending "
                "approval can be approved (use the rollback job for an earlier champion)"
            )
        if handle.alias_version(registry.CHAMPION) == config.version:
            raise dg.Failure(f"v{config.version} is already the champion")
        out = export_version(context, settings, mlflow, spec, dataset, config.version)
        if not out.passed or not registry.has_onnx(mlflow.tracking_uri, info["run_id"]):
            raise dg.Failure(
                f"v{config.version} has no faithful ONNX export ({out.describe()}): scoring "
                "could not serve it, so it is not approved"
            )
        registry.set_tags(
            mlflow.tracking_uri,
            spec.name,
            config.version,
            {
                "approved_by": config.approver,
                "approval_reason": config.reason,
                "approved_verdict": verdict,
            },
        )
        previous = registry.move_alias(
            mlflow.tracking_uri,
            spec.name,
            registry.CHAMPION,
            config.version,
            reason=f"approved: {config.reason}",
            actor=config.approver,
        )
        context.log.info(f"champion approved: v{previous or '-'} → v{config.version}")
        context.log_event(dg.AssetMaterialization(asset_key=keys.onnx, metadata=out.metadata))
        context.log_event(
            dg.AssetObservation(
                asset_key=keys.champion,
                metadata={
                    "version": config.version,
                    "previous_version": previous or "none",
                    "approval_reason": config.reason,
                    "approved_by": config.approver,
                    "gate_verdict": verdict,
                    "gate_reasons": info["tags"].get("gate_reasons", ""),
                },
            )
        )

    @dg.job(
        name=keys.name("approve_model_job"),
        description=f"A person promotes a `{spec.name}` version the gate left pending approval: "
        "ONNX export with parity first, then the `champion` alias (recorded on its tags).",
        tags=common.tags(spec, "approval"),
    )
    def approve_model_job() -> None:
        approve_model()

    return approve_model_job
