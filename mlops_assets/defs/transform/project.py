"""The dbt project as Dagster sees it. Its manifest is prepared at install time
(`dagster-dbt project prepare-and-package --file mlops_assets/defs/transform/project.py`),
never parsed when the code location loads."""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
