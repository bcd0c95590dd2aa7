"""What tests on deliberately small simulated worlds share.

The approval gate decides only on enough held-out evidence (`gate.min_test_*`). A world kept
small for speed trains its first model on fewer held-out days than that, so its first model
is bootstrapped explicitly — the platform's own path for it, recorded on the version's tags —
rather than by lowering the gate for everyone.
"""

from __future__ import annotations

from typing import Any

from mlops_assets import runner
from mlops_assets.components.model_pipeline.spec import ModelSpec

SMALL_WORLD_BOOTSTRAP = "small test world: fewer held-out days than the gate's evidence minimum"


def bootstrap_config(spec: ModelSpec) -> dict[str, Any]:
    """Run config of a models phase (or a run selecting the challenger) that bootstraps."""
    return runner.bootstrap_config(spec, SMALL_WORLD_BOOTSTRAP)
