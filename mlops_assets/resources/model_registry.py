"""MLflow tracking and registry as a Dagster resource (calls into `core.registry`)."""

import subprocess
from pathlib import Path

import dagster as dg

from mlops_assets.core import registry


class ModelRegistry(dg.ConfigurableResource):
    """Where runs and model versions live. Local profile: SQLite + a local artifact folder in
    the data home; production: an MLflow server (`MLFLOW_TRACKING_URI`)."""

    tracking_uri: str
    artifact_root: str | None = None  # local profile only; a server decides its own
    model_name: str = "churn"
    experiment: str = "churn"

    def experiment_id(self) -> str:
        root = Path(self.artifact_root) if self.artifact_root else None
        return registry.ensure_experiment(
            self.tracking_uri, self.experiment, root, root.parent if root else None
        )

    def alias_version(self, alias: str) -> str | None:
        return registry.alias_version(self.tracking_uri, self.model_name, alias)

    def version_info(self, version: str) -> dict:
        return registry.version_info(self.tracking_uri, self.model_name, version)

    def run_link(self, run_id: str) -> str:
        """Where a person finds the run: `mlflow ui` against the same backend (README)."""
        return f"http://127.0.0.1:5000/#/experiments/{self.experiment_id()}/runs/{run_id}"


def code_version(repo: Path | None = None) -> str:
    """The git sha of the checkout the code runs from, or "unknown" outside a git checkout."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"
