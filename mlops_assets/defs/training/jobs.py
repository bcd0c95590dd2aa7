"""Operator jobs for the registry, launchable from the UI's Launchpad with config."""

import dagster as dg

from mlops_assets.core import registry
from mlops_assets.resources.model_registry import ModelRegistry


class RollbackConfig(dg.Config):
    """Which version becomes champion again, and who asks for it and why (kept on the tags)."""

    version: str
    reason: str
    requested_by: str


@dg.op(tags={"kind": "mlflow"})
def rollback_champion(
    context: dg.OpExecutionContext, config: RollbackConfig, mlflow: ModelRegistry
) -> None:
    """Re-point `champion` to an earlier version that exists and has an ONNX export."""
    if not config.reason.strip() or not config.requested_by.strip():
        raise dg.Failure("a rollback needs a reason and who requested it")
    try:
        previous = registry.rollback(
            mlflow.tracking_uri,
            mlflow.model_name,
            config.version,
            actor=config.requested_by,
            reason=config.reason,
        )
    except registry.RegistryError as err:
        raise dg.Failure(str(err)) from err
    context.log.info(f"champion rolled back: v{previous or '-'} → v{config.version}")
    context.log_event(
        dg.AssetObservation(
            asset_key="churn_champion",
            metadata={
                "version": config.version,
                "previous_version": previous or "none",
                "rollback_reason": config.reason,
                "requested_by": config.requested_by,
            },
        )
    )


@dg.job(description="Move the `champion` alias back to an earlier, exported model version.")
def rollback_job() -> None:
    rollback_champion()
