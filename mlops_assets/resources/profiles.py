"""Resources per deployment profile.

Switching profile changes this mapping only — never asset code."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from mlops_assets.defs.transform.project import dbt_project
from mlops_assets.resources.dbt import FastDbtCliResource
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
    return {**common, "warehouse": Warehouse(path=str(settings.warehouse_path))}
