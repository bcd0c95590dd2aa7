"""The dbt project as Dagster sees it, and the dbt CLI resource tuned for per-partition runs.

The project's manifest is prepared at install time
(`dagster-dbt project prepare-and-package --file mlops_assets/resources/dbt.py`), never parsed
when the code location loads.
"""

from __future__ import annotations

import importlib.metadata
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class FastDbtCliResource(DbtCliResource):
    """`DbtCliResource` that reads the dbt-core version from package metadata.

    The stock resource shells out to `dbt --version` before every invocation (about 2 s here,
    and it tries to reach PyPI). dbt-core is installed in this same environment, so its
    metadata gives the same answer for free.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))
