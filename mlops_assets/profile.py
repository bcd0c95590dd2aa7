"""Where the data lives and which profile runs, read from the environment without Dagster.

`settings.Settings` (the Dagster resource) is built from these; processes that never load
Dagster definitions, such as the prediction server, read them here and stay ~70 MB lighter.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".mlops"


def mlops_home() -> Path:
    """The data home: `MLOPS_HOME`, default `./.mlops` (absolute, so subprocesses agree)."""
    return Path(os.environ.get("MLOPS_HOME") or DEFAULT_HOME).resolve()


def deployment_env() -> str:
    """The one profile switch: `MLOPS_ENV` is `local` (embedded defaults) or `prod`."""
    env = os.environ.get("MLOPS_ENV", "local").strip().lower() or "local"
    if env not in {"local", "prod"}:
        raise ValueError(f"MLOPS_ENV must be 'local' or 'prod', got {env!r}")
    return env
