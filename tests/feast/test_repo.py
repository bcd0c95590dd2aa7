"""The Feast repo works on its own (real `feast` CLI) and our in-code config registers the same."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mlops_assets.core import feature_store as fs
from tests.feature_columns import FEATURE_COLUMNS

from .data import day_frame, write_day
from .names import SERVICE, VIEW

FEAST = Path(sys.executable).with_name("feast")


def _feast(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLOPS_HOME": str(home)}
    done = subprocess.run(
        [str(FEAST), *args], cwd=fs.REPO_PATH, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"feast {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in {"sources", "changes"}}


def test_feast_cli_apply_and_materialize_incremental(tmp_path: Path) -> None:
    """`cd feature_repo && feast apply && feast materialize-incremental <now> --views <view>` on a
    temp home."""
    cli_home = tmp_path / "cli"
    (cli_home / "feast").mkdir(parents=True)  # SQLAlchemy won't create the registry's folder
    recent = datetime.now(UTC).date() - timedelta(days=1)  # within the TTL of "now"
    write_day(cli_home, recent, day_frame(recent, ["C1", "C2"], {"tenure_days": [10.0, 20.0]}))

    applied = _feast(cli_home, "apply")
    assert "Created feature view customer_activity" in applied.stdout
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    _feast(cli_home, "materialize-incremental", now, "--views", VIEW)  # the one view with data

    store = fs.open_store(cli_home)
    online = fs.online_features(store, ["C1", "C2"], SERVICE)
    assert online["tenure_days"].tolist() == [10.0, 20.0]
    assert store.get_feature_view("customer_activity").batch_source.path == str(
        cli_home / "features/customer_activity_features/feature_date=*/*.parquet"
    )
    assert not any("${" in p.name for p in tmp_path.rglob("*")), "unexpanded variable folder"

    # The in-code path registers the same objects as the CLI did.
    ours = fs.open_store(tmp_path / "code")
    summary = fs.apply_repo(ours)
    assert "feature view:customer_activity" in summary["changes"]["create"]
    assert _comparable(summary) == _comparable(fs.registry_summary(store))
    for name in ("customer_activity",):
        cli_view, our_view = store.get_feature_view(name), ours.get_feature_view(name)
        assert cli_view.features == our_view.features and cli_view.ttl == our_view.ttl
        assert cli_view.tags == our_view.tags and cli_view.entities == our_view.entities
    assert summary["sources"]["customer_activity"].startswith(str(tmp_path / "code"))
    # Re-applying is a no-op diff; onto the CLI's registry it creates and deletes nothing. (After
    # a materialization Feast itself reports the view "updated": its source's meta timestamp.)
    assert fs.apply_repo(ours)["changes"] == {"create": [], "update": [], "delete": []}
    changes = fs.apply_repo(store)["changes"]
    assert changes["create"] == changes["delete"] == []


def test_repo_declares_the_churn_features(store) -> None:
    view = store.get_feature_view("customer_activity")
    assert [f.name for f in view.features] == list(FEATURE_COLUMNS)
    assert all(str(f.dtype) == "Float64" for f in view.features)
    assert view.ttl == timedelta(days=3)
    assert view.tags["dbt_model"] == "customer_activity_features" and view.owner
    assert view.batch_source.timestamp_field == "event_timestamp"
    assert view.batch_source.created_timestamp_column == "created_timestamp"
    assert [e for e in view.entities] == ["customer"]

    odfv = store.get_on_demand_feature_view("customer_activity_ratios")
    assert odfv.mode == "python"
    assert fs.service_features(store, SERVICE) == [
        *FEATURE_COLUMNS,
        "amount_trend",
        "tickets_per_transaction",
    ]


def test_feastignore_keeps_tests_out_of_the_repo() -> None:
    from feast.repo_operations import get_repo_files

    names = {p.name for p in get_repo_files(fs.REPO_PATH)}
    assert names == {
        "project.py",
        "entities.py",
        "data_sources.py",
        "feature_views.py",
        "feature_services.py",
        "cdnow.py",  # the CDNOW dataset's entity, source, view and service
    }
    assert "tests/" in (fs.REPO_PATH / ".feastignore").read_text()


def test_build_repo_config_local_and_prod(tmp_path: Path) -> None:
    local = fs.build_repo_config(tmp_path / "h")
    assert local.online_store.type == "sqlite"
    assert local.online_store.path == str(tmp_path / "h/feast/online.db")
    assert local.registry.path == f"sqlite:///{tmp_path / 'h/feast/registry.db'}"
    assert local.offline_store.type == "duckdb"
    assert local.entity_key_serialization_version == 3
    assert local.registry.sqlalchemy_config_kwargs["connect_args"] == {"timeout": 30}
    assert local.project == "mlops_assets"

    prod = fs.build_repo_config(tmp_path / "h", env="prod", redis_url="redis.internal:6379")
    assert prod.online_store.type == "redis"
    assert prod.online_store.connection_string == "redis.internal:6379"
    with pytest.raises(ValueError, match="redis_url"):
        fs.build_repo_config(tmp_path / "h", env="prod")


def test_unset_or_unexpanded_home_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    with pytest.raises(RuntimeError, match="MLOPS_HOME is not set"):
        fs.open_store()
    with pytest.raises(ValueError, match="unexpanded"):
        fs.build_repo_config("${MLOPS_HOME}")
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "h"))
    assert fs.home_from_env() == tmp_path / "h"


def test_apply_repo_points_sources_at_the_store_home(tmp_path: Path) -> None:
    """Two homes in one process: each registry points at its own parquet (no import caching)."""
    for name in ("a", "b"):
        store = fs.open_store(tmp_path / name)
        fs.apply_repo(store)
        path = store.get_feature_view("customer_activity").batch_source.path
        assert path.startswith(str(tmp_path / name / "features"))


def test_importing_core_module_is_cheap() -> None:
    code = (
        "import sys, mlops_assets.core.feature_store\n"
        "heavy = {'feast', 'duckdb', 'pandas', 'pyarrow', 'dagster'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_materialize_day_window() -> None:
    start, end = fs.day_window(date(2026, 3, 1))
    assert start == datetime(2026, 3, 2, tzinfo=UTC)
    assert end == datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC)
