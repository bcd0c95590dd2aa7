"""MLflow tracking and registry as a Dagster resource (calls into `core.registry`)."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from mlops_assets.core import registry


class ModelRegistry(dg.ConfigurableResource):
    """Where runs and model versions live. Local profile: SQLite + a local artifact folder in
    the data home; production: an MLflow server (`MLFLOW_TRACKING_URI`). It knows no model:
    each model's assets ask for theirs (`model(name)`), named in the model's YAML."""

    tracking_uri: str
    # local: a folder in the data home; prod: s3://bucket/prefix (None: the server decides)
    artifact_root: str | None = None

    def model(self, name: str) -> "RegisteredModel":
        """One registered model (and its experiment, same name) on this backend."""
        return RegisteredModel(self.tracking_uri, name, self.artifact_root)


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model on a backend: every call passes the backend explicitly (no MLflow
    process-wide state), so it is safe under any executor."""

    tracking_uri: str
    name: str
    artifact_root: str | None = None

    def experiment_id(self) -> str:
        if self.artifact_root and "://" in self.artifact_root:  # prod: s3://bucket/prefix
            return registry.ensure_experiment(
                self.tracking_uri, self.name, self.artifact_root, None
            )
        root = Path(self.artifact_root) if self.artifact_root else None
        return registry.ensure_experiment(
            self.tracking_uri, self.name, root, root.parent if root else None
        )

    def alias_version(self, alias: str) -> str | None:
        return registry.alias_version(self.tracking_uri, self.name, alias)

    def version_info(self, version: str) -> dict:
        return registry.version_info(self.tracking_uri, self.name, version)

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
