"""Prometheus metrics shared by the app and the workers (names match deploy/grafana/dashboard.json)."""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)

OPERATIONS = Counter("pools_operations", "Operations finished, by kind and final status", ["kind", "status"])
OPERATION_SECONDS = Histogram(
    "pools_operation_seconds",
    "Time from submission to the operation finishing",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# "max" across processes: in a worker the sweeper thread of the parent sets it (multiprocess mode).
QUEUE_DEPTH = Gauge("pools_queue_depth", "Jobs waiting in the RQ queue", ["queue"], multiprocess_mode="max")
CACHE_REQUESTS = Counter("pools_cache_requests", "Analytics cache look-ups", ["result"])
LOGIN_FAILURES = Counter("pools_login_failures", "Failed logins")
LOCKOUTS = Counter("pools_lockouts", "Accounts locked after too many failed logins")


def serve(port: int) -> None:
    """Expose /metrics on a port; across processes (RQ's forked work horses) when
    PROMETHEUS_MULTIPROC_DIR is set, which must happen before this module is imported."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)
