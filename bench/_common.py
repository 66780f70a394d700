"""Shared plumbing for the engine benchmarks: throwaway databases, worker processes, seeding, cleanup.

Nothing here touches a database or a Redis key the benchmark did not create itself:
- databases are named ip_bench_<random> and dropped WITH (FORCE) in a finally block;
- workers run in their own process group (start_new_session) and the whole group is stopped;
- Redis keys are removed by queue name and by the ids of this run's jobs only.

core.settings reads the environment once, so configure_environment() must run before anything
calls core.settings.settings(); the benchmarks import core lazily for that reason.

Run as a script with --simple-worker it is a bench-only worker: RQ's SimpleWorker (no fork per job)
on the same queue, running the same job function and the same sweeper as `python -m core worker`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"


# --- process hygiene ------------------------------------------------------------------------------


def _temporary_directory(prefix: str) -> Path:
    """A temporary directory removed when the benchmark exits."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM becomes SystemExit, so the finally blocks still stop workers and drop databases."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


# --- databases ------------------------------------------------------------------------------------


def with_database(server_url: str, name: str) -> str:
    """The server URL with its database name replaced (query string kept)."""
    head, query = (server_url.split("?", 1) + [""])[:2]
    base, _, _ = head.rpartition("/")
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def throwaway_database(server_url: str, prefix: str = "ip_bench_", migrate: bool = True) -> Iterator[str]:
    """CREATE DATABASE <prefix><random>, optionally migrate it, yield its URL, always DROP it."""
    import psycopg

    name = f"{prefix}{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    try:
        if migrate:
            from db.migrate import upgrade

            upgrade(url)
        yield url
    finally:
        _dispose_engines()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _dispose_engines() -> None:
    """Close this process's pooled connections (so DROP DATABASE does not kill them mid-use)."""
    if "core.runtime" in sys.modules:
        from core import bootstrap, runtime

        if runtime.database_url.cache_info().currsize:
            with contextlib.suppress(Exception):
                bootstrap.engine().dispose()


def configure_environment(database_url: str, redis_url: str, queue_name: str) -> dict[str, str]:
    """The environment core.settings reads; also handed to the worker processes."""
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        QUEUE_NAME=queue_name,
        APP_ENV="test",
        COOKIE_SECRET=secrets.token_urlsafe(40),
        DATA_DIR=str(_temporary_directory("ip-bench-data-")),
        METRICS_PORT="0",
        # One manager submits thousands of operations a minute here: the engine is measured, not
        # the per-person limit (tests/integration/test_rate_limits.py covers that).
        OPERATION_RATE_LIMIT="0",
    )
    return dict(os.environ)


def reset_core_caches() -> None:
    """Forget the cached settings, URLs, engine and Redis client (a new database for a new round)."""
    _dispose_engines()
    from core import bootstrap, runtime, settings

    settings.settings.cache_clear()
    runtime.database_url.cache_clear()
    runtime.redis_url.cache_clear()
    bootstrap.redis_client.cache_clear()


# --- seeding --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededPool:
    pool_id: int
    manager_id: int
    investors: int
    seconds: float


def seed_closed_pool(investors: int) -> SeededPool:
    """One pool with `investors` accepted commitments, set-based (core.seed.seed_scale), then closed
    through the real service so it is in the state a capital call needs."""
    from sqlalchemy import text

    from core import bootstrap, seed
    from core.permissions import Actor
    from core.services import pools

    started = time.perf_counter()
    with bootstrap.unit_of_work() as uow:
        before = uow.session.execute(text("SELECT coalesce(max(id), 0) FROM pools")).scalar_one()
        seed.seed_scale(uow, investors, 1, per_investor=1)
        uow.commit()
    with bootstrap.unit_of_work() as uow:
        pool_id, manager_id = uow.session.execute(
            text("SELECT id, manager_id FROM pools WHERE id > :before ORDER BY id LIMIT 1"),
            {"before": before},
        ).one()
    with bootstrap.unit_of_work() as uow:
        pools.close_pool(Actor(manager_id, "fund_manager", "bench-manager"), uow, pool_id)
    with bootstrap.unit_of_work() as uow:
        uow.session.execute(text("ANALYZE"))
        uow.commit()
    return SeededPool(pool_id, manager_id, investors, time.perf_counter() - started)


def call_payload(percent: str = "10") -> dict[str, str]:
    return {
        "percent": percent,
        "purpose": "benchmark call",
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
    }


def operations_queue() -> Any:
    """The RQ queue submissions enqueue on (the composition root's)."""
    from core import bootstrap

    return bootstrap.queue()


# --- timing of named functions (in-process instrumentation, no change to core) -----------------------


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def wrap(self, owner: Any, attribute: str, label: str | None = None) -> None:
        """Replace owner.attribute with a timed wrapper until restore()."""
        label = label or f"{getattr(owner, '__name__', type(owner).__name__)}.{attribute}"
        had_own = isinstance(owner, type) and attribute in owner.__dict__ or not isinstance(owner, type)
        saved = owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute)
        original = getattr(owner, attribute)
        is_static = isinstance(saved, staticmethod)

        @wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, attribute, staticmethod(timed) if is_static else timed)

        def undo() -> None:
            if had_own:
                setattr(owner, attribute, saved)
            else:
                delattr(owner, attribute)

        self._undo.append(undo)

    def restore(self) -> None:
        while self._undo:
            self._undo.pop()()


# --- worker processes -----------------------------------------------------------------------------


@dataclass
class WorkerGroup:
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)


def worker_command(simple: bool) -> list[str]:
    if simple:
        return [sys.executable, str(Path(__file__).resolve()), "--simple-worker"]
    return [sys.executable, "-m", "core", "worker"]


@contextlib.contextmanager
def workers(
    count: int, env: dict[str, str], *, simple: bool = False, ready_timeout: float = 60
) -> Iterator[WorkerGroup]:
    """Start `count` worker processes, each in its own session (process group); wait until RQ sees
    them registered on the queue; always stop the whole groups (SIGTERM, then SIGKILL)."""
    import redis
    from rq import Queue, Worker

    group = WorkerGroup()
    log_dir = _temporary_directory("ip-bench-workers-")
    try:
        for index in range(count):
            log_path = log_dir / f"worker{index}.log"
            log_file = log_path.open("wb")
            group.processes.append(
                subprocess.Popen(
                    worker_command(simple),
                    cwd=str(ROOT),
                    env={**env, "LOG_LEVEL": env.get("LOG_LEVEL", "INFO")},
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log_file.close()
            group.logs.append(log_path)
        connection = redis.Redis.from_url(env["REDIS_URL"])
        queue = Queue(env["QUEUE_NAME"], connection=connection)
        deadline = time.monotonic() + ready_timeout
        while Worker.count(queue=queue) < count:
            dead = [p for p in group.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tail = "\n".join(path.read_text(errors="replace")[-2000:] for path in group.logs)
                raise RuntimeError(f"workers did not start (exited: {len(dead)}); logs:\n{tail}")
            time.sleep(0.1)
        yield group
    finally:
        stop_process_groups(group.processes)


def stop_process_groups(processes: list[subprocess.Popen], grace: float = 15) -> None:
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes:
        # The group too: a work horse forked by RQ may outlive its parent.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.wait(timeout=5)


def cleanup_redis(redis_url: str, queue_name: str, job_ids: set[str] | None = None) -> int:
    """Delete this run's RQ keys: anything naming the queue, the jobs whose origin is the queue (plus
    any `job_ids` given) with their results and executions, and the records of its workers."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=10)
    ours = queue_name.encode()
    ids = set(job_ids or ())
    # Pass 1: which jobs are ours (RQ stores the queue name as the job hash's origin).
    job_keys = [key for key in client.scan_iter(match="rq:job:*", count=2000) if key.count(b":") == 2]
    for start in range(0, len(job_keys), 1000):
        chunk = job_keys[start : start + 1000]
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.hget(key, "origin")
        for key, origin in zip(chunk, pipe.execute(raise_on_error=False), strict=True):
            if origin == ours:
                ids.add(key.decode().split(":", 2)[2])
    # Pass 2: delete.
    removed = 0
    doomed: list[bytes] = []
    for key in client.scan_iter(match="rq:*", count=2000):
        text = key.decode(errors="replace")
        parts = text.split(":")
        if queue_name in text or (len(parts) >= 3 and parts[2] in ids):
            doomed.append(key)
        elif (
            # A stopped worker's record lingers a minute; ours are those that served our queue.
            text.startswith("rq:worker:")
            and client.type(key) == b"hash"
            and ours in (client.hget(key, "queues") or b"").split(b",")
        ):
            doomed.append(key)
            client.srem("rq:workers", key)
        if len(doomed) >= 1000:
            removed += client.delete(*doomed)
            doomed = []
    if doomed:
        removed += client.delete(*doomed)
    client.srem("rq:queues", f"rq:queue:{queue_name}")
    return removed


# --- pgbench --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    output: str


def run_pgbench(server_url: str, *, scale: int, clients: int, threads: int, seconds: int) -> PgbenchResult:
    """pgbench -i -s SCALE into a throwaway database, then the TPC-B-like run; the database is dropped."""
    with throwaway_database(server_url, prefix="ip_bench_pgbench_", migrate=False) as url:
        subprocess.run(
            ["pgbench", "-i", "-s", str(scale), "-q", url],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        done = subprocess.run(
            ["pgbench", "-c", str(clients), "-j", str(threads), "-T", str(seconds), url],
            check=True,
            capture_output=True,
            text=True,
        )
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout) or re.search(
        r"tps = ([0-9.]+)", done.stdout
    )
    if match is None:
        raise RuntimeError(f"could not read tps from pgbench:\n{done.stdout}\n{done.stderr}")
    return PgbenchResult(float(match.group(1)), done.stdout)


# --- the setup line -------------------------------------------------------------------------------


def load_average() -> str:
    """1/5/15-minute load: other work on the machine skews every number printed here."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def setup_line(server_url: str, extra: str) -> str:
    import platform

    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 0
    return (
        f"setup: {usable} usable cores ({os.cpu_count()} online), Python {platform.python_version()}, "
        f"PostgreSQL {version} (synchronous_commit={sync}, shared_buffers={buffers}), {extra}; "
        f"load average {load_average()}"
    )


# --- bench-only SimpleWorker ----------------------------------------------------------------------


def _simple_worker_main() -> int:
    """Same queue, job function and sweeper as jobs.worker.run_worker, but RQ's SimpleWorker:
    jobs run in the worker process itself, so its pooled database connections are reused."""
    import logging
    import threading

    import redis
    from rq import Queue, SimpleWorker

    from core import runtime
    from core.settings import settings
    from jobs.operations import sweep
    from jobs.worker import _sweeper

    config = settings()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config.check()
    connection = redis.Redis.from_url(runtime.redis_url(), health_check_interval=30)
    queue = Queue(config.queue_name, connection=connection)
    with contextlib.suppress(Exception):
        sweep()
    stop = threading.Event()
    threading.Thread(target=_sweeper, args=(stop, queue), name="sweeper", daemon=True).start()
    try:
        SimpleWorker([queue], connection=connection).work(with_scheduler=True)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--simple-worker"]:
        sys.exit(_simple_worker_main())
    print(__doc__)
