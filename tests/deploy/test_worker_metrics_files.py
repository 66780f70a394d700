"""A real worker, started as the image starts it, processes many operations while /metrics is scraped:
the multiprocess files RQ's forked work horses leave behind are folded away after each job (so the
directory stays small however many jobs ran), and the counters still add up and never go backwards."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from core import bootstrap, metrics, operations
from core.services import pools
from core.uow import UnitOfWork
from db.session import engine_for
from tests.conftest import Factory
from tests.workers import free_port, http_get, image_env, wait_until

ROOT = Path(__file__).resolve().parents[2]
JOBS = 12
DONE = 'pools_operations_total{kind="capital_call",status="done"}'
COUNT = 'pools_operation_seconds_count{kind="capital_call"}'


def _value(text: str, series: str) -> float:
    for row in text.splitlines():
        if row.startswith(series + " "):
            return float(row.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def make(fresh_database: str) -> Factory:
    return Factory(lambda: UnitOfWork(engine_for(fresh_database), bootstrap.resources()))


@pytest.fixture
def worker(tmp_path: Path, fresh_database: str):
    port = free_port()
    multiproc = tmp_path / "prom"
    env = image_env(
        fresh_database, METRICS_PORT=port, PROMETHEUS_MULTIPROC_DIR=multiproc, SWEEP_INTERVAL_SECONDS=1
    )
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115
    child = subprocess.Popen(
        ["sh", "deploy/entrypoint.sh", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield {
            "metrics": f"http://127.0.0.1:{port}/metrics",
            "dir": multiproc,
            "pid": child.pid,
            "log": tmp_path,
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
        log.close()


def _owners(directory: Path) -> set[str]:
    """Whose metric files are in the directory: pids, and `archive` for the folded ones."""
    return {re.sub(r"^.*_", "", path.stem) for path in directory.glob("*.db")}


def test_work_horse_metric_files_are_folded_and_counters_add_up(make, worker):
    wait_until(
        lambda: "pools_queue_depth" in http_get(worker["metrics"]),
        60,
        interval=0.2,
        what="the worker's /metrics",
        ignore=OSError,
    )

    manager = make.user("fund_manager")
    investor = make.user("investor")
    pool_ids = []
    for _ in range(JOBS):
        pool_id, _ = make.pool(manager, hard_cap="2000000")
        make.commitment(pool_id, investor, amount="100000", accept_as=manager)
        with make.uow_factory() as uow:
            pools.close_pool(manager, uow, pool_id)
        pool_ids.append(pool_id)

    # Scrape all the time while the horses come and go: the counter may only ever grow.
    seen: list[float] = []
    stop = threading.Event()

    def scrape() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                seen.append(_value(http_get(worker["metrics"]), DONE))
            time.sleep(0.02)

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    submitted = []
    try:
        for pool_id in pool_ids:
            with make.uow_factory() as uow:
                submitted.append(
                    operations.submit(
                        manager,
                        uow,
                        pool_id,
                        "capital_call",
                        {
                            "percent": "20",
                            "purpose": "metrics",
                            "due_date": str(date.today() + timedelta(days=9)),
                        },
                        queue=bootstrap.queue(),
                    ).id
                )

        def all_done() -> bool:
            with make.uow_factory() as uow:
                return all(operations.operation_status(manager, uow, op).status == "done" for op in submitted)

        wait_until(all_done, 120, interval=0.2, what=f"{JOBS} operations to be processed", ignore=OSError)

        def counted() -> str | None:
            text = http_get(worker["metrics"])
            return text if _value(text, DONE) >= JOBS else None

        def folded() -> set[str] | None:
            # Once the last horse is folded, only the worker's own files and the archive are left.
            owners = _owners(worker["dir"])
            return owners if owners <= {str(worker["pid"]), metrics.ARCHIVE} else None

        text = wait_until(counted, 30, interval=0.2, what="the counters", ignore=OSError)
        owners = wait_until(folded, 30, interval=0.2, what="the horses' files to be folded", ignore=OSError)
        time.sleep(0.3)
    finally:
        stop.set()
        scraper.join(timeout=10)

    # Bounded: a worker's own counter and gauge files plus one archive per type, after JOBS horses
    # (each of which wrote a counter and a histogram file of its own).
    files = sorted(p.name for p in worker["dir"].glob("*.db"))
    assert len(files) <= 4, files
    assert {f"counter_{metrics.ARCHIVE}.db", f"histogram_{metrics.ARCHIVE}.db"} <= set(files), files
    assert metrics.ARCHIVE in owners

    # The totals survived the folding: every processed operation is counted exactly once.
    final = http_get(worker["metrics"])
    assert _value(text, DONE) == JOBS
    assert _value(final, DONE) == JOBS
    assert _value(final, COUNT) == JOBS
    assert _value(final, 'pools_operation_seconds_bucket{kind="capital_call",le="+Inf"}') == JOBS
    assert 'pools_operations_total{kind="capital_call",status="failed"}' not in final

    # Never backwards while files were merged and deleted under the scrapes.
    assert len(seen) > 10
    assert all(later >= earlier for earlier, later in zip(seen, seen[1:], strict=False)), seen
    assert seen[-1] == JOBS
