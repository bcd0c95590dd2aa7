"""What the serving tests share: a data home materialized through the runner's own phases, and
a real `mlops-assets serve` process on a free port of 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mlops_assets.core import registry
from mlops_assets.datasets.simulator import SimulationConfig, simulate
from tests.net import free_port
from tests.small_worlds import bootstrap_config

BIN = Path(sys.executable).parent
ADMIN_TOKEN = "t0ken-for-the-admin-api-only"


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def last_day(world: SimulationConfig) -> dt.date:
    return world.start_date + dt.timedelta(days=world.days - 1)


def materialized_home(
    root: Path, world: SimulationConfig, model: str, spans: Mapping[str, tuple | None]
) -> dict:
    """Simulate `world` into a new data home under `root` and run the runner's phases named in
    `spans` (phase kind -> (first, last) ISO days, or None) for `model` and its dataset."""
    import dagster as dg

    from mlops_assets.components.landing_dataset import DATASETS_DIR, load_dataset_spec
    from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
    from mlops_assets.runner import plan, run_selection

    home = root / "home"
    simulate(world, home / "landing")
    spec = load_spec(MODELS_DIR / model / "defs.yaml")
    dataset = load_dataset_spec(DATASETS_DIR / spec.dataset / "defs.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(home))
        mp.delenv("MLOPS_ENV", raising=False)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        from mlops_assets.definitions import defs as load

        defs, instance = load(), dg.DagsterInstance.ephemeral()
        for phase in plan([dataset], [spec]):
            if phase.kind in spans:
                result = run_selection(
                    defs,
                    phase.selection,
                    instance=instance,
                    partition_range=spans[phase.kind],
                    run_config=bootstrap_config(spec) if phase.kind == "models" else None,
                )
                assert result.success, phase.name
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "MLOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    env.pop("PYTHONWARNINGS", None)
    return {"home": home, "env": env, "tracking_uri": registry.local_tracking_uri(home)}


@contextmanager
def running_server(home: dict, *extra_env: tuple[str, str]) -> Iterator[httpx.Client]:
    """`mlops-assets serve` over `home` (admin token set, registry polled every 0.5 s) until
    the block ends; its output goes to serve.log beside the data home."""
    port = free_port()
    env = {**home["env"], "MLOPS_ADMIN_TOKEN": ADMIN_TOKEN, **dict(extra_env)}
    cmd = [str(BIN / "mlops-assets"), "serve", "--port", str(port), "--poll-seconds", "0.5"]
    log_path = home["home"].parent / "serve.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def ready() -> bool:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        try:
            return client.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 90, "the service to be ready")
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
