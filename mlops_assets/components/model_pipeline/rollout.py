"""Online rollouts of one model as Dagster work: the `<model>_rollout_job` and the canary sensor.

The deployment state lives with the model in MLflow (`core.deployment`); prediction servers
follow it within seconds. The job is the one writer of that state, so every change is a
Dagster run with who asked and why (run tags, the state's `updated_by` / `reason`, and an
observation on `<model>/champion` in the UI):

* `shadow` / `canary` / `ab`: start that mode with the challenger (canary: first step; ab: a
  new A/B test, recorded on the registered model's `mlops.ab_test` tag, that the
  `<model>/ab_test` asset judges and concludes; any later action stops a running test);
* `advance`: the canary's next step (the sensor asks for it);
* `promote`: the blue-green switch, `champion` ← the challenger's version, then `single`;
* `rollback`: back to `single` at once (the champion never moved during the canary).

`<model>_canary_sensor` judges the running canary step from the servers' prediction log
(`core.rollout.judge_step`, budgets from the model YAML's `serving:`) and asks for
`advance`, `promote` or `rollback`; it holds while the step has too few answers.
"""

import datetime as dt
from typing import Literal

import dagster as dg

from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.core import registry
from mlops_assets.core.ab_test import AB_TEST_TAG, ABTest, new_test_id
from mlops_assets.core.deployment import DeploymentError, DeploymentState
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.settings import Settings

RolloutAction = Literal["shadow", "canary", "ab", "advance", "promote", "rollback"]
ACTION_TAG = "mlops/rollout_action"


class RolloutConfig(dg.Config):
    """A change of the model's serving target, with who asks for it and why."""

    action: RolloutAction
    percent: float = 0.0  # canary/advance: the step; ab: the challenger's share (default 50)
    reason: str
    requested_by: str


def build_rollout_job(spec: ModelSpec) -> dg.JobDefinition:
    keys = spec.keys
    policy = spec.serving.policy()

    @dg.op(name=keys.name("rollout"), tags={"kind": "mlflow"})
    def rollout(context: dg.OpExecutionContext, config: RolloutConfig, mlflow: ModelRegistry):
        """Write the model's new deployment state (and, to promote, move `champion`)."""
        if not config.reason.strip() or not config.requested_by.strip():
            raise dg.Failure("a rollout step needs a reason and who requested it")
        uri = mlflow.tracking_uri
        try:
            target = registry.serving_target(uri, spec.name)
            state = DeploymentState.from_json(target.deployment)
            new_state = _next_state(spec, policy, target, state, config, uri)
        except (registry.RegistryError, DeploymentError, ValueError) as err:
            raise dg.Failure(f"{spec.name}: {config.action} refused: {err}") from err
        by = f"{config.requested_by} (run {context.run.run_id[:8]})"
        test = None
        if config.action == "ab":
            test = ABTest(
                id=new_test_id(spec.name),
                champion=target.champion or "",
                challenger=target.challenger or "",
                percent=new_state.challenger_percent,
                started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                started_by=by,
                reason=config.reason,
            )
        stamped = new_state.changed(
            by=by,
            reason=config.reason,
            mode=new_state.mode,
            challenger_percent=new_state.challenger_percent,
            test_id=test.id if test else "",
        )
        if state.mode == "ab" and state.test_id:
            why = f"{config.action}: {config.reason}"
            end_ab_test(uri, spec.name, "stopped", config.action, why)
        if test is not None:
            registry.set_model_tag(uri, spec.name, AB_TEST_TAG, test.to_json())
            context.log.info(f"{spec.name}: A/B test {test.id} started")
        registry.set_deployment(uri, spec.name, stamped.to_json())
        after = registry.serving_target(uri, spec.name)
        context.log.info(
            f"{spec.name}: {config.action}: {state.mode} {state.challenger_percent:g} % → "
            f"{stamped.mode} {stamped.challenger_percent:g} % (champion v{after.champion}, "
            f"challenger v{after.challenger}); {config.reason}"
        )
        context.log_event(
            dg.AssetObservation(
                asset_key=keys.champion,
                metadata={
                    "rollout_action": config.action,
                    "mode": stamped.mode,
                    "challenger_percent": stamped.challenger_percent,
                    "champion_version": after.champion or "none",
                    "challenger_version": after.challenger or "none",
                    "reason": config.reason,
                    "requested_by": config.requested_by,
                    "ab_test": stamped.test_id or "none",
                },
            )
        )

    @dg.job(
        name=keys.name("rollout_job"),
        description=f"Change how `{spec.name}` is served online: shadow, canary (steps "
        f"{'/'.join(f'{s:g}' for s in policy.steps)} %), A/B, promote (blue-green switch of "
        "`champion`) or roll back, recorded with who asked and why.",
        tags=common.tags(spec, "rollout"),
    )
    def rollout_job() -> None:
        rollout()

    return rollout_job


def end_ab_test(uri: str, model: str, status, verdict: str, reason: str) -> ABTest | None:
    """Record how the model's running A/B test ended (None: no test was running)."""
    test = ABTest.from_json(registry.model_tag(uri, model, AB_TEST_TAG))
    if test is None or test.status != "running":
        return None
    ended = test.ended(status, verdict, reason)
    registry.set_model_tag(uri, model, AB_TEST_TAG, ended.to_json())
    return ended


def _next_state(spec, policy, target, state, config: RolloutConfig, uri: str) -> DeploymentState:
    action = config.action
    if action == "rollback":
        return DeploymentState()
    if target.challenger is None:
        raise ValueError("there is no challenger version")
    if action in ("shadow", "canary", "ab") and target.challenger == target.champion:
        raise ValueError(
            f"the challenger is the champion (v{target.champion}): nothing to roll out"
        )
    if action == "promote":
        info = registry.version_info(uri, spec.name, target.challenger)
        if not registry.has_onnx(uri, info["run_id"]):
            raise ValueError(f"v{target.challenger} has no ONNX export: it cannot be served")
        registry.move_alias(
            uri,
            spec.name,
            registry.CHAMPION,
            target.challenger,
            reason=f"rollout promote: {config.reason}",
            actor=config.requested_by,
        )
        return DeploymentState()
    if action == "shadow":
        return DeploymentState(mode="shadow")
    if action == "ab":
        return DeploymentState(mode="ab", challenger_percent=config.percent or 50.0)
    if action == "canary":
        return DeploymentState(mode="canary", challenger_percent=config.percent or policy.steps[0])
    # advance
    if state.mode != "canary":
        raise ValueError(f"no canary is running (mode {state.mode!r})")
    if config.percent <= state.challenger_percent:
        raise ValueError(
            f"advance to {config.percent:g} % is not above the current "
            f"{state.challenger_percent:g} %"
        )
    return DeploymentState(mode="canary", challenger_percent=config.percent)


def build_canary_sensor(spec: ModelSpec, rollout_job: dg.JobDefinition) -> dg.SensorDefinition:
    serving = spec.serving
    policy = serving.policy()

    @dg.sensor(
        name=spec.keys.name("canary_sensor"),
        job=rollout_job,
        minimum_interval_seconds=serving.check_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"`{spec.name}` canary: judge the running step on the servers' prediction "
        f"log (error rate ≤ {policy.max_error_rate:.2%}, p95 ≤ {policy.max_p95_ms:g} ms, score "
        f"PSI ≤ {policy.max_score_psi:g}, after {policy.min_answers} challenger answers) → "
        "advance, promote, or roll back at once.",
    )
    def canary_sensor(
        context: dg.SensorEvaluationContext, settings: Settings, mlflow: ModelRegistry
    ):
        from mlops_assets.core.rollout import judge_step
        from mlops_assets.serving.prediction_log import PredictionLog, log_dir

        try:
            target = registry.serving_target(mlflow.tracking_uri, spec.name)
            state = DeploymentState.from_json(target.deployment)
        except (registry.RegistryError, DeploymentError) as err:
            return dg.SkipReason(f"no deployment state to judge: {err}")
        if state.mode != "canary":
            return dg.SkipReason(f"no canary running (mode {state.mode!r})")
        since = dt.datetime.fromisoformat(state.updated_at) if state.updated_at else None
        if since is None:
            return dg.SkipReason("the canary state records no start time")
        records = PredictionLog(log_dir(settings.home_path)).read_since(spec.name, since)
        verdict = judge_step(records, state.challenger_percent, policy)
        stats = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in verdict.stats.items()
        )
        if verdict.action == "hold":
            return dg.SkipReason(f"{verdict.reason} ({stats})")
        percent = policy.next_step(state.challenger_percent) if verdict.action == "advance" else 0
        return dg.RunRequest(
            run_key=f"{spec.name}:canary:{state.updated_at}:{verdict.action}",
            run_config={
                "ops": {
                    spec.keys.name("rollout"): {
                        "config": {
                            "action": verdict.action,
                            "percent": percent or 0.0,
                            "reason": f"{verdict.reason} ({stats})",
                            "requested_by": f"sensor {spec.keys.name('canary_sensor')}",
                        }
                    }
                }
            },
            tags={ACTION_TAG: verdict.action, "mlops/trigger": "canary"},
        )

    return canary_sensor
