"""Prometheus metrics, kept in a registry of the app's own (so several apps in one process — tests — never clash).

With several uvicorn workers (WORKERS > 1), `python -m app` sets PROMETHEUS_MULTIPROC_DIR before any worker
starts: prometheus-client then keeps every value in a file per process, and a scrape, whichever worker
answers it, adds up all of them (prometheus-client's multiprocess mode). Gauges say how to combine workers.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dlserve_requests_total", "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "dlserve_request_duration_seconds", "HTTP request latency by endpoint",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.inference = Histogram(
            "dlserve_inference_seconds", "Time of one forward pass (a batch) by model",
            ["model"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "dlserve_batch_size", "Items per forward pass by model",
            ["model"], buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        # Across workers: queue depths add up; a model is loaded only if every worker has it.
        self.queue_depth = Gauge(
            "dlserve_queue_depth", "Items waiting or running in a model's micro-batcher", ["model"],
            registry=self.registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.model_up = Gauge(
            "dlserve_model_loaded", "1 when the model is loaded and warmed, else 0", ["model"],
            registry=self.registry, multiprocess_mode="livemin",
        )  # fmt: skip
        # A reload (the v2 repository API) sets the old version's series to 0 and the new one's to 1.
        self.model_version = Gauge(
            "dlserve_model_version_info", "1 for the version of each model being served, 0 for versions replaced",
            ["model", "version"], registry=self.registry, multiprocess_mode="livemax",
        )  # fmt: skip
        self.poems_per_pass = Histogram(
            "dlserve_poems_per_pass", "Poems advanced by one forward pass of the poem scheduler",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.poem_characters = Counter(
            "dlserve_poem_characters_total", "Characters (marks included) the poem model has written",
            registry=self.registry,
        )  # fmt: skip
        self.client_limited = Counter(
            "dlserve_client_limited_total", "Requests refused (429) because their client had too many in flight",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.grpc_requests = Counter(
            "dlserve_grpc_requests_total", "gRPC calls (the Open Inference Protocol) by method and status code",
            ["method", "code"], registry=self.registry,
        )  # fmt: skip
        self.grpc_latency = Histogram(
            "dlserve_grpc_request_duration_seconds", "gRPC call latency by method (a stream: its whole life)",
            ["method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.device = Gauge("dlserve_device_info", "The device models run on (value 1)", ["device"],
                            registry=self.registry, multiprocess_mode="livemax")  # fmt: skip

        # labels() takes a lock and builds a key each call; the children, cached, are a dict lookup away.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self.requests.labels(endpoint, method, str(status)),
                self.latency.labels(endpoint),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_grpc(self, method: str, code: str, seconds: float) -> None:
        self.grpc_requests.labels(method, code).inc()
        self.grpc_latency.labels(method).observe(seconds)

    def observe_batch(self, model: str, size: int, seconds: float) -> None:
        self.batch_size.labels(model).observe(size)
        self.inference.labels(model).observe(seconds)

    def observe_poem_pass(self, model: str, poems: int, rows: int, seconds: float) -> None:
        self.poems_per_pass.observe(poems)
        self.observe_batch(model, rows, seconds)

    def observe_poem_characters(self, count: int) -> None:
        self.poem_characters.inc(count)

    def observe_client_limited(self, kind: str) -> None:
        self.client_limited.labels(kind).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets: this process's registry, or every worker's files in multiprocess mode."""
        if not os.environ.get(MULTIPROCESS_ENV):
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    @staticmethod
    def process_exiting() -> None:
        """A worker stops: its live gauges (queue depth, models loaded) stop counting in the sums."""
        if os.environ.get(MULTIPROCESS_ENV):
            multiprocess.mark_process_dead(os.getpid())
