"""Prometheus metrics shared by the app and the workers (names match deploy/grafana/dashboard.json)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPERATIONS = Counter("pools_operations", "Operations finished, by kind and final status", ["kind", "status"])
OPERATION_SECONDS = Histogram(
    "pools_operation_seconds",
    "Time from the job starting to the operation finishing",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
QUEUE_DEPTH = Gauge("pools_queue_depth", "Jobs waiting in the RQ queue", ["queue"])
CACHE_REQUESTS = Counter("pools_cache_requests", "Analytics cache look-ups", ["result"])
LOGIN_FAILURES = Counter("pools_login_failures", "Failed logins")
LOCKOUTS = Counter("pools_lockouts", "Accounts locked after too many failed logins")
