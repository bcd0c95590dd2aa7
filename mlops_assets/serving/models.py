"""The models a server holds, kept in step with the MLflow registry without a restart.

A `ModelHub` polls each model's serving target (aliases + deployment state, one registry call)
and, when it changed, loads the versions it now needs and swaps them in as one immutable
`Deployment`. A request reads the current `Deployment` once, so it never sees half a swap and
never waits for a load. A version that fails to load (no ONNX export, checksum mismatch,
refused by the safe loader) is not served: the previous deployment stays, and the failure is
reported (`/v1/models`, `/readyz`, the `model_load` error counter).

Only ONNX is ever loaded, through `core.onnx_runtime.load_onnx_session`, from the file the
export published and with the sha256 it recorded.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_assets.core import evaluation, fallback_model, input_ranges, registry
from mlops_assets.core.deployment import DeploymentError, DeploymentState
from mlops_assets.core.input_ranges import InputRange
from mlops_assets.core.model_inputs import MLFLOW_TAG, ModelInputs
from mlops_assets.core.onnx_runtime import OnnxScorer, load_onnx_session


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
    """One registered version, ready to score: its ONNX session and its ordered inputs."""

    model: str
    version: str
    scorer: OnnxScorer
    inputs: ModelInputs
    loaded_at: float
    fallback: OnnxScorer | None = None  # `core.fallback_model`: for degraded answers
    ranges: Mapping[str, InputRange] = dataclasses.field(default_factory=dict)  # caller checks


@dataclasses.dataclass(frozen=True)
class Deployment:
    """What answers a model's requests right now."""

    model: str
    champion: LoadedVersion
    challenger: LoadedVersion | None
    state: DeploymentState
    target: registry.ServingTarget


@dataclasses.dataclass
class ModelStatus:
    deployment: Deployment | None = None
    last_error: str | None = None
    last_checked: float = 0.0
    failed_target: registry.ServingTarget | None = None  # not retried until the target moves


class ModelHub:
    """The served models of one data home, refreshed from the registry every `poll_seconds`."""

    def __init__(
        self,
        tracking_uri: str,
        home: Path,
        models: Sequence[str] | None = None,
        *,
        poll_seconds: float = 2.0,
        on_load_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.home = Path(home)
        self.requested = list(models) if models else None
        self.poll_seconds = poll_seconds
        self.on_load_error = on_load_error or (lambda _model, _error: None)
        self.status: dict[str, ModelStatus] = {}
        self._versions: dict[tuple[str, str], LoadedVersion] = {}
        self._lock = threading.Lock()  # one refresh at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- reads (request path)

    def deployment(self, model: str) -> Deployment | None:
        status = self.status.get(model)
        return status.deployment if status else None

    def names(self) -> list[str]:
        return sorted(self.status)

    # ---------------------------------------------------------------- refresh

    def refresh(self) -> None:
        """Bring every model in step with the registry (safe to call from any thread)."""
        with self._lock:
            names = self.requested or registry.served_models(self.tracking_uri)
            for name in names:
                self._refresh_one(name)

    def _refresh_one(self, name: str) -> None:
        status = self.status.setdefault(name, ModelStatus())
        status.last_checked = time.time()
        try:
            target = registry.serving_target(self.tracking_uri, name)
        except registry.RegistryError as err:
            status.last_error = str(err)
            return
        current = status.deployment
        if target == status.failed_target or (current is not None and current.target == target):
            return
        try:
            status.deployment = self._deploy(target)
            status.last_error, status.failed_target = None, None
        except (DeploymentError, LoadError) as err:
            status.last_error, status.failed_target = str(err), target
            self.on_load_error(name, str(err))

    def _deploy(self, target: registry.ServingTarget) -> Deployment:
        if target.champion is None:
            raise LoadError(f"{target.model_name} has no champion version")
        state = DeploymentState.from_json(target.deployment)
        champion = self._load(target.model_name, target.champion)
        challenger = None
        if state.uses_challenger:
            if target.challenger is None:
                raise LoadError(
                    f"{target.model_name}: deployment {state.mode!r} needs a challenger version"
                )
            challenger = self._load(target.model_name, target.challenger)
        return Deployment(target.model_name, champion, challenger, state, target)

    def _load(self, model: str, version: str) -> LoadedVersion:
        cached = self._versions.get((model, version))
        if cached is not None:
            return cached
        try:
            info = registry.version_info(self.tracking_uri, model, version)
            raw_inputs = info["tags"].get(MLFLOW_TAG)
            if not raw_inputs:
                raise LoadError(f"{model} v{version} does not record its model inputs")
            try:
                ranges = input_ranges.from_json(info["tags"].get(input_ranges.INPUT_RANGES_TAG))
            except (ValueError, TypeError) as err:
                raise LoadError(f"{model} v{version}: unreadable input_ranges tag ({err})") from err
            path = evaluation.published_onnx_path(self.tracking_uri, self.home, model, version)
            scorer = load_onnx_session(
                path,
                allowed_root=self.home,
                expected_sha256=info["tags"].get("onnx_sha256"),
            )
            fallback = None
            if fallback_model.SHA_TAG in info["tags"]:  # exported with one: it must load too
                fallback = load_onnx_session(
                    evaluation.published_onnx_path(
                        self.tracking_uri,
                        self.home,
                        model,
                        version,
                        fallback_model.FALLBACK_ARTIFACT,
                    ),
                    allowed_root=self.home,
                    expected_sha256=info["tags"][fallback_model.SHA_TAG],
                )
        except LoadError:
            raise
        except Exception as err:  # registry, download and loader errors alike
            raise LoadError(f"{model} v{version} could not be loaded: {err}") from err
        loaded = LoadedVersion(
            model,
            version,
            scorer,
            ModelInputs.from_json(raw_inputs),
            time.time(),
            fallback,
            ranges,
        )
        self._versions[(model, version)] = loaded
        return loaded

    # ---------------------------------------------------------------- background polling

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._poll, name="model-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as err:  # a registry hiccup must not end polling for good
                for status in self.status.values():
                    status.last_error = f"registry poll failed: {err}"

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            status = self.status[name]
            d = status.deployment
            out.append(
                {
                    "model": name,
                    "champion": d.champion.version if d else None,
                    "challenger": d.challenger.version if d and d.challenger else None,
                    "aliases": {
                        "champion": d.target.champion if d else None,
                        "challenger": d.target.challenger if d else None,
                    },
                    "deployment": dataclasses.asdict(d.state) if d else None,
                    "feature_service": d.champion.inputs.feature_service if d else None,
                    "features": list(d.champion.inputs.features) if d else [],
                    # what `instances` may hold (the champion's training range ± kσ)
                    "input_ranges": {f: dataclasses.asdict(r) for f, r in d.champion.ranges.items()}
                    if d
                    else {},
                    "last_error": status.last_error,
                }
            )
        return out


class LoadError(RuntimeError):
    """A version could not be served (the previous deployment stays)."""
