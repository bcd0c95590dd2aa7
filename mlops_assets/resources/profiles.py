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
from mlops_assets.resources.model_registry import ModelRegistry
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
            target="prod" if settings.env == "prod" else "local",
        ),
    }
    # The warehouse stays a DuckDB file in both profiles for now: the prod dbt target
    # (Postgres) is configured in dbt_project/profiles.yml.
    common["warehouse"] = Warehouse(path=str(settings.warehouse_path))
    if settings.env == "prod":
        common["mlflow"] = ModelRegistry(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"))
        common["feast"] = FeatureStoreResource(
            home=settings.home, env="prod", redis_url=dg.EnvVar("MLOPS_REDIS_URL")
        )
        return common
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
