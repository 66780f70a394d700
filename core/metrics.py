"""Prometheus metrics shared by the app and the workers (names match deploy/grafana/dashboard.json).

Workers run in prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): RQ forks a work horse
per job and each horse writes its counters and histograms to files named after its pid. Left alone those
files pile up, one set per job, and every scrape reads all of them. So after each horse has exited, the
worker folds the horse's files into one archive file per metric type and deletes them
(absorb_dead_process), under a lock that scrapes also take: a scrape sees the horse's values either in
its own files or in the archive, never in both or neither, so counters never go backwards.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.mmap_dict import MmapedDict, mmap_key

log = logging.getLogger("investment_pools.metrics")

OPERATIONS = Counter("pools_operations", "Operations finished, by kind and final status", ["kind", "status"])
# End-to-end: from the submission (the operation row's created_at) to the operation finishing, so the
# time the job waited in the queue is included, not only the time a worker spent on it.
OPERATION_SECONDS = Histogram(
    "pools_operation_seconds",
    "Seconds from an operation's submission to its end (done or failed), queue wait included",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
# "max" across processes: in a worker the sweeper thread of the parent sets it (multiprocess mode).
QUEUE_DEPTH = Gauge("pools_queue_depth", "Jobs waiting in the RQ queue", ["queue"], multiprocess_mode="max")
CACHE_REQUESTS = Counter("pools_cache_requests", "Analytics cache look-ups", ["result"])
LOGIN_FAILURES = Counter("pools_login_failures", "Failed logins")
LOCKOUTS = Counter("pools_lockouts", "Accounts locked after too many failed logins")

# Types whose values only add up (a dead process's share must be kept); gauges of a dead process are
# dropped instead (mark_process_dead does this for the live* modes, absorb_dead_process for the rest).
_ADDITIVE = ("counter", "histogram", "summary")
ARCHIVE = "archive"  # counter_archive.db, histogram_archive.db: what finished work horses counted
_LOCK_FILE = ".merge.lock"  # not *.db, so the collector never reads it


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@contextmanager
def _dir_lock(path: str, *, exclusive: bool) -> Iterator[None]:
    """flock on a file in the directory: serialises merges against scrapes across threads and processes
    (an app and a worker may share one directory)."""
    with open(os.path.join(path, _LOCK_FILE), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _LockedCollector(multiprocess.MultiProcessCollector):
    """prometheus_client's MultiProcessCollector, reading the files under the merge lock."""

    def collect(self):  # noqa: ANN201 - same signature as the base class
        with _dir_lock(self._path, exclusive=False):
            return list(super().collect())


def _write_archive(target: str, metrics: object) -> None:
    """Write merged (not accumulated) samples to target, atomically replacing the old archive."""
    temporary = target + ".tmp"  # not *.db: invisible to the collector until renamed
    if os.path.exists(temporary):
        os.remove(temporary)
    archive = MmapedDict(temporary)
    try:
        for metric in metrics:  # type: ignore[attr-defined]
            for sample in metric.samples:
                key = mmap_key(
                    metric.name,
                    sample.name,
                    list(sample.labels),
                    list(sample.labels.values()),
                    metric.documentation,
                )
                archive.write_value(key, sample.value, 0.0)
    finally:
        archive.close()
    os.replace(temporary, target)


def _pid_files(path: str, pid: int) -> list[str]:
    return glob.glob(os.path.join(path, f"*_{pid}.db"))


def absorb_dead_process(pid: int, path: str | None = None) -> int:
    """Fold the metric files of a process that has exited (an RQ work horse) into the archive files and
    delete them; returns how many files were removed. Counter, histogram and summary values are added to
    `<type>_archive.db` with MultiProcessCollector.merge(accumulate=False), the documented way to write
    merged values back to files; the dead process's gauges are dropped (mark_process_dead). Only call it
    for a pid that has exited and been reaped: a live process would keep writing to a deleted file."""
    path = path or multiprocess_dir()
    if not path or pid == os.getpid():
        return 0
    multiprocess.mark_process_dead(pid, path)
    with _dir_lock(path, exclusive=True):
        files = _pid_files(path, pid)
        for typ in _ADDITIVE:
            mine = [f for f in files if os.path.basename(f).startswith(f"{typ}_")]
            if not mine:
                continue
            target = os.path.join(path, f"{typ}_{ARCHIVE}.db")
            sources = [target, *mine] if os.path.exists(target) else mine
            try:
                merged = multiprocess.MultiProcessCollector.merge(sources, accumulate=False)
            except Exception:  # noqa: BLE001 - a horse killed while growing its file leaves a torn one
                log.exception("metric files of pid %s could not be read; dropping them", pid)
                continue  # the archive stays as it was
            _write_archive(target, merged)
        for file in files:
            os.remove(file)
    return len(files)


def serve(port: int) -> None:
    """Expose /metrics on a port; across processes (RQ's forked work horses) when
    PROMETHEUS_MULTIPROC_DIR is set, which must happen before this module is imported."""
    registry = REGISTRY
    path = multiprocess_dir()
    if path:
        registry = CollectorRegistry()
        _LockedCollector(registry, path=path)
    start_http_server(port, registry=registry)
