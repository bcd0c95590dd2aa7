"""The service's configuration: what the production profile refuses to start without."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_assets.cli import main
from mlops_assets.serving.app import ConfigError, ServiceConfig

TOKEN = "a-token-of-sixteen+"


def config(tmp_path: Path, **kwargs) -> ServiceConfig:
    return ServiceConfig(home=tmp_path, tracking_uri=f"sqlite:///{tmp_path}/m.db", **kwargs)


def test_prod_refuses_to_start_without_an_admin_token_or_an_online_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set MLOPS_ADMIN_TOKEN"):
        config(tmp_path, env="prod", redis_url="localhost:6379").check()
    with pytest.raises(ConfigError, match="set MLOPS_REDIS_URL"):
        config(tmp_path, env="prod", admin_token=TOKEN).check()
    config(tmp_path, env="prod", admin_token=TOKEN, redis_url="localhost:6379").check()
    config(tmp_path).check()  # local: the admin API is simply off without a token


@pytest.mark.parametrize("field", ["admin_token", "predict_token"])
def test_short_tokens_are_refused(tmp_path: Path, field: str) -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        config(tmp_path, **{field: "short"}).check()


def test_the_serve_command_says_why_it_will_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    monkeypatch.setenv("MLOPS_ENV", "prod")
    monkeypatch.delenv("MLOPS_ADMIN_TOKEN", raising=False)
    assert main(["serve"]) == 2
    assert "set MLOPS_ADMIN_TOKEN" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "expected a port within [1, 65535], got 70000" in capsys.readouterr().err


def test_the_out_of_range_policy_is_flag_or_reject(tmp_path: Path) -> None:
    assert config(tmp_path).out_of_range == "flag"
    config(tmp_path, out_of_range="reject").check()
    with pytest.raises(ConfigError, match="MLOPS_SERVE_OUT_OF_RANGE must be 'flag' or 'reject'"):
        config(tmp_path, out_of_range="drop").check()
