"""`mlops-assets metrics`: the platform's batch-side metrics over HTTP for Prometheus.

The declared models and datasets (their YAML) say what to look for, once at start; each
scrape then reads only the small files the assets wrote (`core.platform_metrics`). Its own
registry, its own port: the prediction service's `/metrics` stays about serving.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from mlops_assets.core.platform_metrics import (
    METRICS,
    DataSource,
    ModelSource,
    PlatformReader,
)


class PlatformCollector:
    """A prometheus_client collector over a `PlatformReader` (one scrape at a time)."""

    def __init__(self, reader: PlatformReader) -> None:
        self.reader = reader
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            samples = self.reader.read()
        families: dict[str, Metric] = {}
        for info in METRICS:
            if info.kind == "counter":
                # prometheus_client appends `_total` to a counter family's samples
                families[info.name] = CounterMetricFamily(
                    info.name.removesuffix("_total"), info.help, labels=list(info.labels)
                )
            else:
                families[info.name] = GaugeMetricFamily(
                    info.name, info.help, labels=list(info.labels)
                )
        for s in samples:
            families[s.name].add_metric([v for _, v in s.labels], s.value)
        yield from families.values()


def declared_sources() -> tuple[list[ModelSource], list[DataSource]]:
    """Every model (with its AUC-PR floor) and every dataset source the YAML declares."""
    from mlops_assets.components.landing_dataset.spec import dataset_specs
    from mlops_assets.components.model_pipeline.spec import model_specs

    models = [ModelSource(s.name, s.performance.auc_pr_floor) for s in model_specs()]
    sources = [DataSource(d.name, s.name) for d in dataset_specs() for s in d.contract.sources]
    return models, sources


def build_registry(
    home: Path,
    models: Sequence[ModelSource] | None = None,
    sources: Sequence[DataSource] | None = None,
) -> CollectorRegistry:
    if models is None or sources is None:
        declared_models, declared = declared_sources()
        models = declared_models if models is None else models
        sources = declared if sources is None else sources
    registry = CollectorRegistry()
    registry.register(PlatformCollector(PlatformReader(home, models, sources)))
    return registry


def serve(home: Path, host: str = "127.0.0.1", port: int = 9108) -> None:
    """Serve `/metrics` until interrupted."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client import generate_latest, make_wsgi_app

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args) -> None:
            pass  # one line per scrape is noise

    registry = build_registry(home)
    generate_latest(registry)  # the first read (imports, every file parsed) before any scrape
    app = make_wsgi_app(registry)
    with (
        make_server(host, port, app, handler_class=_Quiet) as server,
        contextlib.suppress(KeyboardInterrupt),
    ):
        server.serve_forever()
