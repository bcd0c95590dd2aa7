"""Feast as a Dagster resource: the repo config is built in code for the data home."""

from typing import TYPE_CHECKING

import dagster as dg

from mlops_assets.core import feature_store

if TYPE_CHECKING:
    from feast import FeatureStore


class FeatureStoreResource(dg.ConfigurableResource):
    """Local profile: SQLite registry + SQLite online store in the data home, DuckDB offline
    store over the parquet dbt exports. Production: Redis online store (`MLOPS_REDIS_URL`),
    SQL registry on Postgres (`MLOPS_FEAST_REGISTRY_URL`)."""

    home: str
    env: str = "local"
    redis_url: str | None = None
    registry_url: str | None = None  # prod: the SQL registry on Postgres

    def store(self) -> "FeatureStore":
        return feature_store.open_store(
            self.home, env=self.env, redis_url=self.redis_url, registry_url=self.registry_url
        )
