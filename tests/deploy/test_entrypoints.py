"""The image's command lines, run from this checkout with environment-only configuration against
the real PostgreSQL and Redis: the app answers its health check, a worker processes an operation,
its /metrics counters move, it logs JSON lines naming the operation (with its actor and pool), and it
shows up as a live worker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from core import bootstrap, operations
from core.services import health, pools
from core.uow import UnitOfWork
from db.session import engine_for
from tests.conftest import Factory
from tests.workers import free_port, http_get, image_env, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def make(fresh_database: str) -> Factory:
    """The processes run in production mode, which refuses to start on a database holding the demo
    accounts with their published passwords (another test may seed them into the run's database):
    this test gets a database of its own."""
    return Factory(lambda: UnitOfWork(engine_for(fresh_database), bootstrap.resources()))


@pytest.fixture
def image_processes(tmp_path: Path, fresh_database: str):
    worker_port, app_port, app_metrics = free_port(), free_port(), free_port()
    env = image_env(
        fresh_database, PROMETHEUS_MULTIPROC_DIR=tmp_path / "prom", STREAMLIT_SERVER_HEADLESS="true"
    )
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("worker", "app")}  # noqa: SIM115
    children = {
        "worker": subprocess.Popen(
            ["sh", "deploy/entrypoint.sh", "worker"],
            cwd=ROOT,
            env={**env, "METRICS_PORT": str(worker_port)},
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        "app": subprocess.Popen(
            ["sh", "deploy/entrypoint.sh", "app", "--server.port", str(app_port)],
            cwd=ROOT,
            env={**env, "METRICS_PORT": str(app_metrics)},
            stdout=logs["app"],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    }
    try:
        yield {
            "worker_metrics": f"http://127.0.0.1:{worker_port}/metrics",
            "app": f"http://127.0.0.1:{app_port}",
            "app_metrics": f"http://127.0.0.1:{app_metrics}/metrics",
            "logs": tmp_path,
        }
    finally:
        for child in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        for handle in logs.values():
            handle.close()


def test_image_command_lines_run_the_app_and_a_worker(make, image_processes):
    processes = image_processes
    assert wait_until(
        lambda: http_get(processes["app"] + "/_stcore/health") == "ok",
        60,
        interval=0.2,
        what="the app's health check",
        ignore=OSError,
    )
    wait_until(
        lambda: "pools_queue_depth" in http_get(processes["worker_metrics"]),
        60,
        interval=0.2,
        what="the worker's /metrics",
        ignore=OSError,
    )

    pool_id, manager = make.pool(hard_cap="2000000")
    for amount in ("100000", "250000"):
        make.commitment(pool_id, amount=amount, accept_as=manager)
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    with make.uow_factory() as uow:
        submitted = operations.submit(
            manager,
            uow,
            pool_id,
            "capital_call",
            {"percent": "20", "purpose": "deploy check", "due_date": str(date.today() + timedelta(days=10))},
            queue=bootstrap.queue(),
        )

    def finished() -> bool:
        with make.uow_factory() as uow:
            return operations.operation_status(manager, uow, submitted.id).status == "done"

    wait_until(finished, 60, interval=0.2, what="the operation to be processed by the worker", ignore=OSError)
    counter = 'pools_operations_total{kind="capital_call",status="done"}'

    def scraped() -> str | None:
        text = http_get(processes["worker_metrics"])
        return text if counter in text else None

    metrics = wait_until(scraped, 30, interval=0.2, what="the worker's operation counter", ignore=OSError)
    line = next(row for row in metrics.splitlines() if row.startswith(counter))
    assert float(line.rsplit(" ", 1)[1]) >= 1
    assert "pools_operation_seconds_bucket" in metrics
    assert "pools_login_failures_total" in http_get(processes["app_metrics"])

    # The worker reports itself in the admin's operations health service, with a fresh heartbeat.
    admin = make.user("admin")
    with make.uow_factory() as uow:
        report = health.health(admin, uow)
    assert report.database.ok and report.redis.ok
    mine = [w for w in report.workers if os.environ["QUEUE_NAME"] in w.queues]
    assert mine and all(
        w.seconds_since_heartbeat is not None and w.seconds_since_heartbeat < 120 for w in mine
    )

    records = [
        json.loads(text)
        for text in (processes["logs"] / "worker.log").read_text().splitlines()
        if text.startswith("{")
    ]
    about = [record for record in records if record.get("operation_id") == str(submitted.id)]
    assert about and {"ts", "level", "logger", "message"} <= set(about[0])
    # The outcome line names the operation, who asked for it and the pool it moved money in.
    done = [record for record in about if record["message"].endswith(" done")]
    assert done, about
    assert done[-1]["actor_id"] == str(manager.user_id) and done[-1]["pool_id"] == str(pool_id)
