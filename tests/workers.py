"""Real RQ workers in subprocesses for the engine tests, a poller, and set-based seeding.

Workers run `python -m core worker` (RQ's forking Worker plus the sweeper thread) with the test's
environment. RQ puts each work horse in a process group of its own, so killing a worker means
freezing it, killing its horses, then killing it; `running_workers` always does that on the way
out, so no worker outlives its test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import psutil
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.1,
    what: str | Callable[[], str] = "",
    ignore: type[Exception] | tuple[type[Exception], ...] = (),
) -> T:
    """Poll predicate until it returns something truthy (which is returned) or timeout seconds pass;
    `what` (text, or a callable giving it, e.g. the workers' logs) explains a timeout; `ignore`d
    errors count as not yet (a server still starting refuses connections)."""
    deadline = time.monotonic() + timeout
    while True:
        value = None
        with contextlib.suppress(*(ignore if isinstance(ignore, tuple) else (ignore,))):
            value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {detail or predicate!r}")
        time.sleep(interval)


def image_env(database_url: str, **overrides: object) -> dict[str, str]:
    """The environment the image's entrypoint (deploy/entrypoint.sh) runs with: production mode,
    JSON logs, environment-only configuration, and `python` on PATH is the project's, as in the image."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APP_HOME": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "APP_ENV": "production",
        "COOKIE_SECRET": secrets.token_urlsafe(40),
        "LOG_FORMAT": "json",
    }
    env.update({name: str(value) for name, value in overrides.items()})
    return env


# Every table a refused request must leave exactly as it was.
BUSINESS_TABLES = (
    "users",
    "pools",
    "commitments",
    "capital_calls",
    "call_items",
    "journals",
    "entries",
    "operations",
    "approvals",
    "pool_managers",
)


def table_state(
    uow_factory: Callable[[], Any], tables: tuple[str, ...] = BUSINESS_TABLES
) -> dict[str, tuple[Any, ...]]:
    """Each table's row count and a checksum of its rows: equal before and after means untouched."""
    with uow_factory() as uow:
        return {
            table: tuple(
                uow.session.execute(
                    text(
                        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {table} t"
                    )
                ).one()
            )
            for table in tables
        }


def worker_env(**overrides: object) -> dict[str, str]:
    """The test run's environment (database, Redis, queue) with overrides, all as strings."""
    env = dict(os.environ)
    env.update(
        METRICS_PORT="0",
        LOG_LEVEL="INFO",
        SWEEP_INTERVAL_SECONDS="1",
        SWEEP_PENDING_AFTER_SECONDS="2",
        OPERATION_TIMEOUT_SECONDS="5",
    )
    env.update({name: str(value) for name, value in overrides.items()})
    return env


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker and its work horses (which RQ moves into process groups of their own)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGSTOP)  # frozen, it cannot fork another horse meanwhile
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session: the group is its own
    proc.wait(timeout=10)
    psutil.wait_procs(children, timeout=5)


class Workers:
    """Worker subprocesses sharing one environment; stop_all() leaves none behind."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            log = (self.log_dir / f"worker-{len(self.procs) + 1}.log").open("wb")
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "core", "worker"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self.procs.append(proc)
            started.append(proc)
        return started

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """kill -9 the worker and whatever job its work horse was in the middle of."""
        _kill_tree(proc)

    def horses(self, proc: subprocess.Popen[bytes]) -> list[int]:
        try:
            return [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [proc for proc in self.procs if proc.poll() is None]

    def stop_all(self) -> None:
        for proc in self.procs:
            _kill_tree(proc)

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("worker-*.log")):
            parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)


@contextlib.contextmanager
def running_workers(count: int = 1, **settings: object) -> Iterator[Workers]:
    """Start count workers with settings as environment overrides (DATABASE_URL=..., QUEUE_NAME=...,
    SWEEP_PENDING_AFTER_SECONDS=1, ...); kill all of them, horses included, on the way out. Their
    logs are deleted after a clean exit and kept (path on stderr) after a failure."""
    log_dir = Path(tempfile.mkdtemp(prefix="ip-test-workers-"))
    workers = Workers(worker_env(**settings), log_dir)
    try:
        workers.start(count)
        yield workers
    except BaseException:
        workers.stop_all()
        sys.stderr.write(f"worker logs kept in {log_dir}\n")
        raise
    workers.stop_all()
    shutil.rmtree(log_dir, ignore_errors=True)


def queue_for(name: str) -> Any:
    """An RQ queue on the test run's Redis (the workers read the same REDIS_URL)."""
    from rq import Queue

    from core import bootstrap

    return Queue(name, connection=bootstrap.redis_client())


def unique_queue_name() -> str:
    return f"ops-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def cli_verify(database_url: str) -> subprocess.CompletedProcess[str]:
    """`python -m core verify` against database_url, as an operator would run it."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "core", "verify"],
        cwd=ROOT,
        env=worker_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- set-based seeding ---------------------------------------------------------------------------

_UNUSABLE_HASH = "$2b$04$" + "x" * 53  # not a hash bcrypt could ever match: these users never log in


def insert_users(uow: Any, role: str, count: int, **columns: str) -> list[int]:
    """count users of role in one INSERT ... SELECT generate_series; returns their ids in order."""
    tag = uuid.uuid4().hex[:10]
    kyc = columns.get("kyc_status", "approved")
    accreditation = columns.get("accreditation", "accredited" if role == "investor" else "none")
    return list(
        uow.session.execute(
            text(
                """INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
                   SELECT 't' || :tag || '_' || g, 'Test ' || :role || ' ' || g, 't' || g || '@example.com',
                          :role, :kyc, :accreditation, :hash
                     FROM generate_series(1, :n) g ORDER BY g
                RETURNING id"""
            ),
            {
                "tag": tag,
                "role": role,
                "kyc": kyc,
                "accreditation": accreditation,
                "hash": _UNUSABLE_HASH,
                "n": count,
            },
        ).scalars()
    )


def seed_accepted_commitments(uow: Any, pool_id: int, investors: int, amount: str | Decimal) -> list[int]:
    """investors new investors, each with an accepted commitment of amount to an open pool, booked
    exactly as core.seed.seed_scale books them (one commitment journal for all). Caller commits."""
    investor_ids = insert_users(uow, "investor", investors)
    uow.session.execute(
        text(
            """INSERT INTO commitments (pool_id, investor_id, amount_requested, amount_accepted, status,
                                        decided_at)
               SELECT :pool, inv.id, :amount, :amount, 'accepted', now()
                 FROM unnest(CAST(:ids AS bigint[])) AS inv(id)"""
        ),
        {"pool": pool_id, "amount": Decimal(amount), "ids": investor_ids},
    )
    journal_id = uow.session.execute(
        text(
            """INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date)
               VALUES ('test:commitments:' || :tag, :pool, 'commitment', 'test seed', current_date)
               RETURNING id"""
        ),
        {"tag": uuid.uuid4().hex, "pool": pool_id},
    ).scalar_one()
    uow.session.execute(
        text(
            """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount, kind, day)
               SELECT :journal, :pool, inv.id, acct.account, p.currency, acct.side, :amount, 'commitment',
                      current_date
                 FROM unnest(CAST(:ids AS bigint[])) AS inv(id)
                 CROSS JOIN (VALUES ('commitment_memo', 'D'), ('commitment', 'C')) AS acct(account, side)
                 CROSS JOIN pools p WHERE p.id = :pool"""
        ),
        {"journal": journal_id, "pool": pool_id, "amount": Decimal(amount), "ids": investor_ids},
    )
    uow.session.execute(text("UPDATE pools SET version = version + 1 WHERE id = :pool"), {"pool": pool_id})
    return investor_ids


def closed_pool_with_investors(
    make: Any, investors: int, amount: str = "10000", **terms: str
) -> tuple[int, Any, list[int]]:
    """A closed pool whose manager is a real (bcrypt) user and whose investors are seeded set-based."""
    from core.services import pools

    cap = str(Decimal(amount) * investors * 2)
    pool_id, manager = make.pool(
        status="open",
        target_size=terms.pop("target_size", cap),
        hard_cap=terms.pop("hard_cap", cap),
        min_ticket=terms.pop("min_ticket", "1"),
        max_ticket=terms.pop("max_ticket", amount),
        **terms,
    )
    with make.uow_factory() as uow:
        investor_ids = seed_accepted_commitments(uow, pool_id, investors, amount)
        uow.commit()
    with make.uow_factory() as uow:
        pools.close_pool(manager, uow, pool_id)
    return pool_id, manager, investor_ids


def process_in_process(make: Any, actor: Any, pool_id: int, kind: str, payload: dict[str, Any]) -> Any:
    """Submit and run an operation here, without a worker; returns its final status."""
    from core import operations

    with make.uow_factory() as uow:
        status = operations.submit(actor, uow, pool_id, kind, payload)
    operations.process(str(status.id), make.uow_factory)
    with make.uow_factory() as uow:
        return operations.operation_status(actor, uow, status.id)


def uow_factory_for(database_url: str) -> Callable[[], Any]:
    """Units of work on another database than the run's (fresh_database, an embedded server)."""
    from core.uow import UnitOfWork
    from db.session import engine_for

    engine = engine_for(database_url)
    return lambda: UnitOfWork(engine)


def free_port() -> int:
    """A TCP port nobody listens on right now (for a process the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - localhost only
        return response.read().decode()


def balances(
    session: Any, pool_id: int, investor_id: int | None = None
) -> dict[tuple[str, int | None], Decimal]:
    """Debit-positive balance of each (account, investor) of a pool, straight from the entries: the
    test's own arithmetic, independent of the ledger's read model."""
    rows = session.execute(
        text(
            """SELECT account, investor_id, sum(CASE side WHEN 'D' THEN amount ELSE -amount END)
                 FROM entries WHERE pool_id = :pool AND (CAST(:investor AS bigint) IS NULL OR investor_id = :investor)
                GROUP BY account, investor_id"""
        ),
        {"pool": pool_id, "investor": investor_id},
    )
    return {(account, investor): total for account, investor, total in rows}
