"""Resources per deployment profile.

Switching profile changes this mapping only — never asset code."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from mlops_assets.core.registry import local_tracking_uri
from mlops_assets.resources.dbt import FastDbtCliResource, dbt_project
from mlops_assets.resources.feature_store import FeatureStoreResource
from mlops_assets.resources.landing import LandingZone
from mlops_assets.resources.model_registry import ModelRegistry
from mlops_assets.resources.prod_env import require_prod_env
from mlops_assets.resources.warehouse import Warehouse
from mlops_assets.settings import Settings


def dbt_executable() -> str:
    """The `dbt` next to this interpreter (the venv's), so PATH does not matter."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else (shutil.which("dbt") or "dbt")


def build_resources(settings: Settings) -> dict[str, Any]:
    common: dict[str, Any] = {
        "settings": settings,
        "dbt": FastDbtCliResource(
            project_dir=dbt_project,
            dbt_executable=dbt_executable(),
            # DuckDB in both profiles: ingest writes the raw tables into the DuckDB warehouse,
            # so dbt must read them there (dbt_project/profiles.yml's `prod` Postgres target
            # needs the warehouse itself moved to Postgres first).
            target="local",
        ),
    }
    # The warehouse stays a DuckDB file in both profiles for now.
    common["warehouse"] = Warehouse(path=str(settings.warehouse_path))
    if settings.env == "prod":
        # every variable checked now (a missing one fails the load with its name); the values
        # stay EnvVars, read by Dagster when a resource is built, never shown in the UI
        require_prod_env(os.environ)
        common["mlflow"] = ModelRegistry(
            tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"),
            artifact_root=dg.EnvVar("MLOPS_MLFLOW_ARTIFACT_ROOT"),
        )
        # the landing zone on S3, copied into the local landing folder by each landing sensor
        common["landing"] = LandingZone(s3_bucket=dg.EnvVar("MLOPS_S3_BUCKET"))
        common["feast"] = FeatureStoreResource(
            home=settings.home,
            env="prod",
            redis_url=dg.EnvVar("MLOPS_REDIS_URL"),
            registry_url=dg.EnvVar("MLOPS_FEAST_REGISTRY_URL"),
        )
        return common
    common["landing"] = LandingZone()  # the local folder only
    common["feast"] = FeatureStoreResource(home=settings.home, env="local")
    if os.environ.get("MLFLOW_TRACKING_URI"):
        # honoured in the local profile too
        common["mlflow"] = ModelRegistry(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    else:
        common["mlflow"] = ModelRegistry(
            tracking_uri=local_tracking_uri(settings.home_path),
            artifact_root=str(settings.home_path / "mlflow" / "artifacts"),
        )
    return common
