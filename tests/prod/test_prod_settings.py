"""The prod profile is selected by configuration only, and every setting it needs comes from
the environment: a missing one fails the code-location load (and the instance set-up) naming
it and what uses it. No server needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_assets.resources.prod_env import REQUIRED, MissingSetting, require_prod_env
from mlops_assets.runner import DAGSTER_YAML, PROD_DAGSTER_YAML, ensure_dagster_home


def _all_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in REQUIRED:
        monkeypatch.setenv(name, f"value-of-{name.lower()}")


def test_every_missing_variable_is_named_with_what_uses_it() -> None:
    with pytest.raises(MissingSetting) as caught:
        require_prod_env({"MLOPS_REDIS_URL": "127.0.0.1:6379", "MLOPS_S3_BUCKET": " "})
    message = str(caught.value)
    for name in set(REQUIRED) - {"MLOPS_REDIS_URL"}:
        assert name in message
    assert "MLOPS_REDIS_URL" not in message
    assert "Feast's SQL registry" in message


def test_loading_the_code_location_in_prod_fails_fast_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_assets.definitions import defs

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLOPS_ENV", "prod")
    _all_set(monkeypatch)
    monkeypatch.delenv("MLOPS_FEAST_REGISTRY_URL")
    with pytest.raises(MissingSetting, match=r"MLOPS_FEAST_REGISTRY_URL \(Feast's SQL registry"):
        defs()


def test_the_instance_config_follows_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("MLOPS_ENV", "prod")
    with pytest.raises(MissingSetting, match="MLOPS_DAGSTER_PG_URL"):
        ensure_dagster_home(tmp_path)
    assert not (tmp_path / "dagster" / "dagster.yaml").exists()
    _all_set(monkeypatch)
    config = ensure_dagster_home(tmp_path) / "dagster.yaml"
    assert config.read_text() == PROD_DAGSTER_YAML
    text = config.read_text()
    assert "env: MLOPS_DAGSTER_PG_URL" in text and "S3ComputeLogManager" in text
    assert "value-of" not in text  # the file names variables, never holds their values
    monkeypatch.setenv("MLOPS_ENV", "local")  # switching back rewrites our own file
    assert (ensure_dagster_home(tmp_path) / "dagster.yaml").read_text() == DAGSTER_YAML


def test_backup_and_restore_refuse_the_prod_profile_instead_of_a_partial_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_assets.cli import main

    (tmp_path / "home").mkdir()
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLOPS_ENV", "prod")
    assert main(["backup", "--to", str(tmp_path / "snap")]) == 1
    assert "MLOPS_ENV=prod keeps the instance" in capsys.readouterr().err
    assert not (tmp_path / "snap").exists()
    assert main(["restore", "--from", str(tmp_path / "snap")]) == 1
    assert "pg_dump" in capsys.readouterr().err
