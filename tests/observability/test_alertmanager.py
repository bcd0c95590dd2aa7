"""Alertmanager's config: rendered from the template and the environment, checked by Debian's
own amtool, routed in three tiers; a missing receiver setting fails the rendering by name."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_assets.core.alerting import (
    VARIABLES,
    MissingReceiverSetting,
    render_alertmanager_config,
)
from mlops_assets.observability import cli

RECEIVER_ENV = {
    "MLOPS_PAGERDUTY_ROUTING_KEY": "test-routing-key-0001",
    "MLOPS_ALERT_EMAIL_TO": "oncall@example.org",
    "MLOPS_SMTP_SMARTHOST": "smtp.example.org:587",
    "MLOPS_SMTP_FROM": "alerts@example.org",
    "MLOPS_SMTP_USERNAME": "alerts",
    "MLOPS_SMTP_PASSWORD": "not-a-real-password",
    "MLOPS_SLACK_WEBHOOK_URL": "https://hooks.example.org/services/T0/B0/x",
}
REQUIRED = sorted(v.name for v in VARIABLES if v.default is None)


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True, timeout=60)


def _render(tmp_path: Path, env: dict[str, str]) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_alertmanager_config(env))
    return path


def test_rendered_config_passes_amtool_check_config(tmp_path: Path) -> None:
    path = _render(tmp_path, RECEIVER_ENV)
    done = _amtool("check-config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 receivers" in done.stdout
    config = yaml.safe_load(path.read_text())
    pagerduty = config["receivers"][0]["pagerduty_configs"][0]
    assert pagerduty["routing_key"] == RECEIVER_ENV["MLOPS_PAGERDUTY_ROUTING_KEY"]
    assert config["global"]["smtp_require_tls"] is True


@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "pagerduty"), ("warning", "email"), ("info", "slack"), ("unknown", "email")],
)
def test_each_tier_routes_to_its_receiver(tmp_path: Path, severity: str, receiver: str) -> None:
    path = _render(tmp_path, RECEIVER_ENV)
    done = _amtool(
        "config", "routes", "test", f"--config.file={path}", f"severity={severity}", "alertname=X"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == receiver


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_receiver_setting_fails_with_its_name(missing: str) -> None:
    env = {k: v for k, v in RECEIVER_ENV.items() if k != missing}
    with pytest.raises(MissingReceiverSetting, match=missing):
        render_alertmanager_config(env)


def test_every_missing_setting_is_named_at_once() -> None:
    with pytest.raises(MissingReceiverSetting) as err:
        render_alertmanager_config({})
    for name in REQUIRED:
        assert name in str(err.value)


def test_the_cli_exits_2_naming_the_variable(tmp_path: Path, capsys) -> None:
    env = {k: v for k, v in RECEIVER_ENV.items() if k != "MLOPS_SLACK_WEBHOOK_URL"}
    out = tmp_path / "am.yml"
    code = cli.run_alertmanager(argparse.Namespace(out=out, template=None), env)
    assert code == 2
    assert "MLOPS_SLACK_WEBHOOK_URL is not set" in capsys.readouterr().err
    assert not out.exists()
    assert cli.run_alertmanager(argparse.Namespace(out=out, template=None), RECEIVER_ENV) == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert _amtool("check-config", str(out)).returncode == 0


def test_values_cannot_inject_yaml(tmp_path: Path) -> None:
    """A value with a newline and a key stays one string in its place."""
    sneaky = "https://hooks.example.org/x\nreceivers: []"
    path = _render(tmp_path, {**RECEIVER_ENV, "MLOPS_SLACK_WEBHOOK_URL": sneaky})
    config = yaml.safe_load(path.read_text())
    assert config["receivers"][2]["slack_configs"][0]["api_url"] == sneaky
    assert len(config["receivers"]) == 3


@pytest.mark.parametrize(
    ("name", "value"), [("MLOPS_SMTP_REQUIRE_TLS", "yes"), ("MLOPS_ALERT_GROUP_WAIT", "soon")]
)
def test_typed_settings_are_validated(name: str, value: str) -> None:
    with pytest.raises(MissingReceiverSetting, match=name):
        render_alertmanager_config({**RECEIVER_ENV, name: value})


def test_the_template_holds_no_secret() -> None:
    from mlops_assets.core.alerting import TEMPLATE

    text = TEMPLATE.read_text()
    for value in ("routing_key:", "api_url:", "smtp_auth_password:"):
        line = next(line for line in text.splitlines() if value in line)
        assert line.split(value)[1].strip().startswith("${"), line
