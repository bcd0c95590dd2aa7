"""Config and store: the Feast RepoConfig built in code on the data home, never from YAML."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_assets.core.feature_store.feast_import import import_feast

if TYPE_CHECKING:
    from feast import FeatureStore, RepoConfig

PROJECT = "mlops_assets"
# The Feast repo at the project root (an editable / source checkout); callers may pass their own.
REPO_PATH = Path(__file__).resolve().parents[3] / "feature_repo"
# FileSource tag naming the source's path below the data home; `apply_repo` re-points sources.
HOME_PATH_TAG = "home_relative_path"

Env = Literal["local", "prod"]


def home_from_env(var: str = "MLOPS_HOME") -> Path:
    """The data home from the environment, failing fast when unset.

    Feast's YAML loader expands an unset `${MLOPS_HOME}` to itself and then creates a folder with
    that literal name, so we never let an unset variable reach Feast.
    """
    value = os.environ.get(var, "").strip()
    if not value:
        raise RuntimeError(f"{var} is not set: it must point at the data home (e.g. ./.mlops).")
    return checked_home(value)


def checked_home(home: Path | str) -> Path:
    """`home` as an absolute path, refusing anything that looks like an unexpanded variable."""
    text = str(home)
    if not text.strip() or "${" in text or text.startswith("$"):
        raise ValueError(f"data home {text!r} looks like an unexpanded variable")
    return Path(text).expanduser().resolve()


def feast_dir(home: Path | str) -> Path:
    """Where Feast's registry and the SQLite online store live under the data home."""
    return checked_home(home) / "feast"


def build_repo_config(
    home: Path | str,
    *,
    env: Env = "local",
    redis_url: str | None = None,
    repo_path: Path | str | None = None,
    registry_url: str | None = None,
) -> RepoConfig:
    """The Feast config, built in code so an unset variable can never leak into a path.

    Mirrors feature_repo/feature_store.yaml: SQL registry on SQLite (or on Postgres at
    `registry_url`) and DuckDB offline store under the data home; online store SQLite locally,
    Redis in prod. The Redis connection string
    (`host:port,password=...`) must come from the caller, i.e. from an env var; there is no default.
    """
    import_feast()
    from feast import RepoConfig
    from feast.infra.registry.sql import SqlRegistryConfig

    base = feast_dir(home)
    base.mkdir(parents=True, exist_ok=True)  # SQLAlchemy can't create the registry's folder
    if env == "local":
        online: dict[str, Any] = {"type": "sqlite", "path": str(base / "online.db")}
    elif env == "prod":
        if not redis_url:
            raise ValueError("env='prod' needs redis_url (Redis connection string from env)")
        online = {"type": "redis", "connection_string": redis_url}
    else:
        raise ValueError(f"env must be 'local' or 'prod', got {env!r}")
    if registry_url is not None and not registry_url.startswith("postgresql"):
        raise ValueError("registry_url must be a postgresql[+driver]:// SQLAlchemy URL")
    registry = SqlRegistryConfig(
        registry_type="sql",
        path=registry_url or f"sqlite:///{base / 'registry.db'}",
        cache_ttl_seconds=60,
        # Several run workers may record materializations at once: wait for SQLite's lock
        # (a SQLite-only option; Postgres handles concurrent writers itself).
        sqlalchemy_config_kwargs={
            "echo": False,
            "pool_pre_ping": True,
            **({} if registry_url else {"connect_args": {"timeout": 30}}),
        },
    )
    return RepoConfig(
        project=PROJECT,
        provider="local",
        registry=registry,
        offline_store={"type": "duckdb"},
        online_store=online,
        entity_key_serialization_version=3,
        repo_path=Path(repo_path) if repo_path else None,
    )


def open_store(
    home: Path | str | None = None,
    repo_path: Path | str = REPO_PATH,
    env: Env = "local",
    redis_url: str | None = None,
    registry_url: str | None = None,
) -> FeatureStore:
    """A FeatureStore on the data home (`home`, else MLOPS_HOME, failing fast when unset)."""
    import_feast()
    from feast import FeatureStore

    home = home_from_env() if home is None else checked_home(home)
    config = build_repo_config(
        home, env=env, redis_url=redis_url, repo_path=repo_path, registry_url=registry_url
    )
    return FeatureStore(repo_path=str(repo_path), config=config)


def store_home(store: FeatureStore) -> Path:
    """The data home a store built by `build_repo_config` points at (from its registry path)."""
    path = str(store.config.registry.path)
    prefix = "sqlite:///"
    registry = Path(path[len(prefix) :] if path.startswith(prefix) else path)
    if registry.name != "registry.db" or registry.parent.name != "feast":
        raise ValueError(f"registry {path!r} is not <home>/feast/registry.db; pass home=")
    return registry.parent.parent
