"""The service's Prometheus metrics, with the names the practice notes use.

One `CollectorRegistry` per app (not the process-wide default), so two apps in one process
(tests) never share counters. Labels stay low-cardinality: model, version, variant, a
two-valued result, three confidence levels, the route template (never the raw path).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)
ERROR_TYPES = ("model_load", "prediction_failed", "timeout", "features_missing")


def confidence_level(probability: float) -> str:
    """high: at least 0.4 from the 0.5 boundary; medium: at least 0.2; low otherwise."""
    distance = abs(probability - 0.5)
    return "high" if distance >= 0.4 else "medium" if distance >= 0.2 else "low"


def resident_bytes() -> float:
    """This process's resident set size (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return float(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class ServiceMetrics:
    registry: CollectorRegistry
    model_predictions: Counter
    predictions: Counter
    inference_time: Histogram
    processing_duration: Histogram
    confidence: Histogram
    errors: Counter
    degraded: Counter
    out_of_range: Counter
    http_duration: Histogram
    http_in_progress: Gauge
    memory: Gauge

    @classmethod
    def create(cls) -> ServiceMetrics:
        r = CollectorRegistry()
        ProcessCollector(registry=r)  # process_cpu_seconds_total etc. (dashboard: Service CPU)
        memory = Gauge("app_memory_usage_bytes", "Resident memory of the service.", registry=r)
        memory.set_function(resident_bytes)
        return cls(
            registry=r,
            model_predictions=Counter(
                "model_predictions_total",
                "Predictions returned, per model.",
                ["model"],
                registry=r,
            ),
            predictions=Counter(
                "ml_predictions_total",
                "Predictions by model, version, variant, result and confidence level.",
                ["model", "version", "variant", "result", "confidence_level"],
                registry=r,
            ),
            inference_time=Histogram(
                "model_inference_time_seconds",
                "ONNX scoring time per request.",
                ["model"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            processing_duration=Histogram(
                "ml_processing_duration_seconds",
                "Feature read + scoring time per request.",
                ["model"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            confidence=Histogram(
                "ml_confidence_distribution",
                "Predicted probabilities.",
                ["model"],
                buckets=tuple(i / 10 for i in range(1, 11)),
                registry=r,
            ),
            errors=Counter(
                "ml_prediction_errors_total",
                "Failed predictions by kind: " + ", ".join(ERROR_TYPES) + ".",
                ["model", "error_type"],
                registry=r,
            ),
            degraded=Counter(
                "ml_degraded_predictions_total",
                "Predictions answered in degraded mode.",
                ["model", "reason"],
                registry=r,
            ),
            out_of_range=Counter(
                "ml_out_of_range_inputs_total",
                "Caller-sent input values outside the training range ± kσ, by feature.",
                ["model", "feature"],
                registry=r,
            ),
            http_duration=Histogram(
                "http_request_duration_seconds",
                "HTTP request duration by route and status.",
                ["method", "route", "status"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            http_in_progress=Gauge(
                "http_requests_in_progress",
                "HTTP requests being served.",
                ["method", "route"],
                registry=r,
            ),
            memory=memory,
        )

    def record_predictions(
        self, model: str, version: str, variant: str, probabilities: list[float]
    ) -> None:
        self.model_predictions.labels(model).inc(len(probabilities))
        for p in probabilities:
            result = "positive" if p >= 0.5 else "negative"
            self.predictions.labels(model, version, variant, result, confidence_level(p)).inc()
            self.confidence.labels(model).observe(p)


class ModelLoadedCollector:
    """`ml_model_loaded{model}`: 1 while the service holds a champion for the model, 0 when it
    knows the model but could not load one (the notes' "model status"; alert MLModelNotLoaded).
    `loaded` returns {model: loaded?} at scrape time."""

    def __init__(self, loaded: Callable[[], dict[str, bool]]) -> None:
        self.loaded = loaded

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "ml_model_loaded",
            "1 if the model's champion is loaded and serving, else 0",
            labels=["model"],
        )
        for model, ok in sorted(self.loaded().items()):
            family.add_metric([model], 1.0 if ok else 0.0)
        yield family
