"""The production profile's settings: each one from the environment only, checked all at once
when the profile is selected (`MLOPS_ENV=prod`), so a missing one fails fast with its name."""

from __future__ import annotations

from collections.abc import Mapping

# name -> what uses it. Values are secrets or addresses: never defaulted, never logged.
REQUIRED = {
    "MLOPS_DAGSTER_PG_URL": "the Dagster instance's storage (runs, events, schedules, sensor "
    "cursors) on Postgres: postgresql://user:password@host:port/db",
    "MLFLOW_TRACKING_URI": "MLflow's backend: postgresql+psycopg2://user:password@host:port/db, "
    "or an MLflow server's http(s) URL",
    "MLOPS_MLFLOW_ARTIFACT_ROOT": "where MLflow stores run artifacts: s3://bucket/prefix",
    "MLOPS_FEAST_REGISTRY_URL": "Feast's SQL registry on Postgres: "
    "postgresql+psycopg2://user:password@host:port/db",
    "MLOPS_REDIS_URL": "Feast's online store: host:port[,password=...]",
    "MLOPS_S3_BUCKET": "the S3 bucket for Dagster's compute logs and the landing zone "
    "(landing/<YYYY-MM-DD>/<source>.csv), both through dagster-aws",
}
# Read by boto3 wherever S3 is used (MLflow artifacts, dagster-aws), not by our code.
OPTIONAL = {
    "AWS_ACCESS_KEY_ID": "S3 credentials (or an instance role)",
    "AWS_SECRET_ACCESS_KEY": "S3 credentials (or an instance role)",
    "AWS_DEFAULT_REGION": "S3 region",
    "AWS_ENDPOINT_URL_S3": "an S3-compatible endpoint (MinIO, moto) instead of AWS",
}


class MissingSetting(RuntimeError):
    """The production profile is selected and a required variable is unset."""


def require_prod_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The required variables' values; raises naming every missing one and what needs it."""
    missing = [name for name in REQUIRED if not environ.get(name, "").strip()]
    if missing:
        lines = "; ".join(f"{name} ({REQUIRED[name]})" for name in missing)
        raise MissingSetting(f"MLOPS_ENV=prod needs these environment variables: {lines}")
    return {name: environ[name].strip() for name in REQUIRED}
