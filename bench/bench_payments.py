"""Payment throughput: durable payment operations fully posted per second, beside pgbench's TPC-B tps.

What it does, all in throwaway state that is removed at the end (try/finally):
1. CREATE DATABASE ip_bench_<random> on --pg-server, migrate it (db.migrate.upgrade).
2. Seed a closed pool with N investors' accepted commitments set-based (core.seed.seed_scale), and
   issue a real capital call over it: core.operations.submit + core.operations.process in-process,
   which writes one call item per investor.
3. Start --workers `python -m core worker` processes (RQ's forking Worker plus the sweeper) on a
   queue of this run's own, in Redis db 7 by default.
4. Submit --payments payment operations (each pays one call item in full, as its investor) from
   --clients threads, each submission in its own unit of work, and time from the first submission
   until every payment operation is done (polling SELECT count(*) FROM operations).
4b. With --statement-lines L > 1 (default 100), steps 1-4 again in a fresh database, the pool's
   manager recording the same payments from bank statements of L lines (operations.submit_many, the
   Capital calls page's statement upload): one transaction and one Redis round trip per statement,
   still one operation row, idempotency key and job per payment.
5. pgbench -i -s 4 into another throwaway database and pgbench -c 4 -j 2 -T 20 (TPC-B-like).
6. Print both, the ratio (target: payments/s >= 0.5 x pgbench tps) and core.verify's verdict.

--also-simple-worker repeats steps 1-4 in a fresh database with a bench-only worker that runs
RQ's SimpleWorker (no fork per job; see bench/_common.py), since `python -m core worker` has no
such switch. Prints; asserts nothing (DESIGN.md: tests never assert on wall-clock time).

    python bench/bench_payments.py [--quick] [--payments 20000] [--workers 2] [--clients 4]
                                   [--statement-lines 100] [--pg-server URL] [--redis-url URL]
                                   [--also-simple-worker]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


@dataclass
class Round:
    label: str
    payments: int
    submitted_seconds: float
    posted_seconds: float
    done: int
    failed: int
    submit_errors: int
    latency_ms: tuple[float, float, float]  # p50, p95, max of created -> finished, per operation
    verify_ok: bool
    verify_text: str
    seed_seconds: float
    call_seconds: float
    rq_jobs: int
    partial: bool

    @property
    def per_second(self) -> float:
        return self.done / self.posted_seconds if self.posted_seconds else 0.0


def issue_call(pool: _common.SeededPool) -> tuple[int, float]:
    """A real capital call over the pool, processed in-process; returns the call id."""
    from core import bootstrap, operations
    from core.permissions import Actor

    manager = Actor(pool.manager_id, "fund_manager", "bench-manager")
    started = time.perf_counter()
    with bootstrap.unit_of_work() as uow:
        status = operations.submit(manager, uow, pool.pool_id, "capital_call", _common.call_payload("10"))
    outcome = operations.process(str(status.id), bootstrap.unit_of_work)
    with bootstrap.unit_of_work() as uow:
        final = operations.operation_status(manager, uow, status.id)
    if outcome != "done":
        raise RuntimeError(f"the seeding capital call ended {outcome}: {final.error}")
    return int(final.result["call_id"]), time.perf_counter() - started


class Submitters:
    """--clients threads submitting payments, each submission in its own unit of work."""

    def __init__(
        self, pool: _common.SeededPool, items: list[tuple[int, int, Decimal]], clients: int, lines: int
    ) -> None:
        self.pool, self.items, self.clients, self.lines = pool, items, clients, lines
        self.errors = [0] * clients
        self.threads = [
            threading.Thread(target=self._client, args=(i,), name=f"client{i}", daemon=True)
            for i in range(clients)
        ]
        self._start = threading.Barrier(clients + 1)
        self.stop = threading.Event()

    def start(self) -> float:
        """Start every thread at once; returns the perf_counter of the first possible submission."""
        for thread in self.threads:
            thread.start()
        try:
            self._start.wait(timeout=300)
        except threading.BrokenBarrierError:
            raise RuntimeError("a client did not start (its error is printed above)") from None
        return time.perf_counter()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def join(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return sum(self.errors)

    def _client(self, index: int) -> None:
        """lines == 1: each investor pays their own item, one request each. lines > 1: the pool's
        manager records the payments from bank statements of `lines` lines (operations.submit_many,
        the path of the Capital calls page's statement upload): still one operation per payment.
        A client that fails before the start breaks the barrier, so the run stops instead of waiting."""
        try:
            from core import bootstrap, operations
            from core.permissions import Actor

            job_queue = _common.operations_queue()
        except BaseException:
            self._start.abort()
            raise
        cent = Decimal("0.01")
        mine = self.items[index :: self.clients]
        manager = Actor(self.pool.manager_id, "fund_manager", "bench-manager")
        self._start.wait()
        for start in range(0, len(mine), self.lines):
            if self.stop.is_set():
                return
            chunk = mine[start : start + self.lines]
            payloads = [
                {
                    "call_item_id": item_id,
                    "amount": str(amount_due.quantize(cent)),
                    "reference": f"bench-{item_id}",
                }
                for item_id, _, amount_due in chunk
            ]
            actor = manager if self.lines > 1 else Actor(chunk[0][1], "investor", f"investor{chunk[0][1]}")
            try:
                with bootstrap.unit_of_work() as uow:
                    operations.submit_many(
                        actor, uow, self.pool.pool_id, "payment", payloads, queue=job_queue
                    )
            except Exception as exc:  # noqa: BLE001 - counted and shown; the benchmark goes on
                self.errors[index] += len(chunk)
                if self.errors[index] <= 3 * len(chunk):
                    print(
                        f"  submission of items {chunk[0][0]}.. failed: {type(exc).__name__}: {exc}",
                        flush=True,
                    )


def rq_jobs_run(env: dict[str, str]) -> int:
    """Jobs the workers on our queue have finished (a re-enqueued operation counts once per run)."""
    import redis
    from rq import Queue, Worker

    queue = Queue(env["QUEUE_NAME"], connection=redis.Redis.from_url(env["REDIS_URL"]))
    return sum(w.successful_job_count + w.failed_job_count for w in Worker.all(queue=queue))


def run_round(args: argparse.Namespace, *, simple: bool, lines: int) -> Round:
    import psycopg
    from sqlalchemy import text

    label = "SimpleWorker (bench-only, no fork)" if simple else "RQ forking Worker (python -m core worker)"
    label += f", bank statements of {lines} lines" if lines > 1 else ", one request per payment"
    queue_name = f"bench-payments-{secrets.token_hex(4)}"
    with _common.throwaway_database(args.pg_server) as url:
        env = _common.configure_environment(url, args.redis_url, queue_name)
        _common.reset_core_caches()
        job_ids: set[str] = set()
        try:
            from core import bootstrap
            from core.verify import verify

            pool = _common.seed_closed_pool(args.payments)
            call_id, call_seconds = issue_call(pool)
            with bootstrap.unit_of_work() as uow:
                items = [
                    (row[0], row[1], row[2])
                    for row in uow.session.execute(
                        text(
                            "SELECT id, investor_id, amount_due FROM call_items WHERE call_id = :c "
                            "ORDER BY id LIMIT :n"
                        ),
                        {"c": call_id, "n": args.payments},
                    )
                ]
                uow.session.execute(text("ANALYZE"))
                uow.commit()
            if len(items) < args.payments:
                raise RuntimeError(f"only {len(items)} call items to pay, wanted {args.payments}")
            print(
                f"  [{label}] seeded {pool.investors:,} investors in {pool.seconds:.1f} s; "
                f"capital call of {len(items):,} items posted in {call_seconds:.2f} s",
                flush=True,
            )

            with (
                _common.workers(args.workers, env, simple=simple),
                psycopg.connect(url, autocommit=True) as poll,
            ):
                partial = False
                submitters = Submitters(pool, items, args.clients, lines)
                began = submitters.start()
                try:
                    submitted_at = None
                    last_change, last_seen = time.perf_counter(), -1
                    done = failed = 0
                    while True:
                        if submitted_at is None and not submitters.running:
                            submitted_at = time.perf_counter()
                        done, failed = poll.execute(
                            "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'failed') "
                            "FROM operations WHERE kind = 'payment'"
                        ).fetchone()
                        now = time.perf_counter()
                        errors = sum(submitters.errors)
                        if submitted_at is not None and done + failed >= args.payments - errors:
                            break
                        if done + failed != last_seen:
                            last_seen, last_change = done + failed, now
                        elif now - last_change > args.stall_timeout:
                            print(
                                f"  stalled: {done:,} done, {failed:,} failed after {now - began:.0f} s",
                                flush=True,
                            )
                            partial = True
                            break
                        if args.time_limit and now - began > args.time_limit:
                            partial = True
                            break
                        time.sleep(0.05)
                    finished_at = now
                finally:
                    submitters.stop.set()  # also on Ctrl-C / SIGTERM: no submissions after the cleanup
                    errors = submitters.join(timeout=60)
                submitted_at = submitted_at or finished_at
                rq_jobs = rq_jobs_run(env)

            with bootstrap.unit_of_work() as uow:
                latencies = [
                    float(value) * 1000
                    for value in uow.session.execute(
                        text(
                            "SELECT extract(epoch FROM finished_at - created_at) FROM operations "
                            "WHERE kind = 'payment' AND finished_at IS NOT NULL"
                        )
                    ).scalars()
                ]
                report = verify(uow.session)
                unpaid = uow.session.execute(
                    text("SELECT count(*) FROM call_items WHERE call_id = :c AND status <> 'paid'"),
                    {"c": call_id},
                ).scalar_one()
                if failed:
                    reasons = uow.session.execute(
                        text(
                            "SELECT error, count(*) FROM operations WHERE status = 'failed' "
                            "GROUP BY error ORDER BY 2 DESC LIMIT 3"
                        )
                    ).all()
                    for reason, count in reasons:
                        print(f"  failed x{count}: {reason}", flush=True)
                job_ids = {str(i) for i in uow.session.execute(text("SELECT id FROM operations")).scalars()}
            latencies.sort()
            quantiles = (
                (
                    statistics.median(latencies),
                    latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))],
                    latencies[-1],
                )
                if latencies
                else (0.0, 0.0, 0.0)
            )
            verify_text = (
                f"OK ({unpaid:,} of the call's items left unpaid)"
                if report.ok
                else "VIOLATIONS FOUND\n" + report.summary()
            )
            return Round(
                label,
                args.payments,
                submitted_at - began,
                finished_at - began,
                done,
                failed,
                errors,
                quantiles,
                report.ok,
                verify_text,
                pool.seconds,
                call_seconds,
                rq_jobs,
                partial,
            )
        finally:
            _common.cleanup_redis(args.redis_url, queue_name, job_ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payments", type=int, default=20_000, help="payment operations (= investors)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4, help="submitting threads")
    parser.add_argument("--pg-server", default=_common.DEFAULT_PG_SERVER)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument("--pgbench-scale", type=int, default=4)
    parser.add_argument("--pgbench-clients", type=int, default=4)
    parser.add_argument("--pgbench-threads", type=int, default=2)
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=1800,
        help="stop measuring after this many seconds and report the rate so far, marked PARTIAL (0: no limit)",
    )
    parser.add_argument(
        "--stall-timeout", type=float, default=120, help="give up after this long without progress"
    )
    parser.add_argument(
        "--also-simple-worker",
        action="store_true",
        help="also run a round with a bench-only RQ SimpleWorker (no fork per job)",
    )
    parser.add_argument(
        "--statement-lines",
        type=int,
        default=100,
        help="also a round where the manager records the payments from bank statements of this many "
        "lines per submission (0: per-request round only)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 payments, 5 s of pgbench")
    args = parser.parse_args(argv)
    _common.exit_cleanly_on_sigterm()
    if args.quick:
        args.payments = min(args.payments, 1_000)
        args.pgbench_seconds = min(args.pgbench_seconds, 5)

    print(
        _common.setup_line(
            args.pg_server,
            f"N = {args.payments:,} investors / call items / payments, {args.workers} workers, "
            f"{args.clients} client threads, Redis {args.redis_url}",
        ),
        flush=True,
    )
    rounds = [run_round(args, simple=False, lines=1)]
    if args.statement_lines > 1:
        rounds.append(run_round(args, simple=False, lines=args.statement_lines))
    if args.also_simple_worker:
        rounds.append(run_round(args, simple=True, lines=1))
    pgbench = _common.run_pgbench(
        args.pg_server,
        scale=args.pgbench_scale,
        clients=args.pgbench_clients,
        threads=args.pgbench_threads,
        seconds=args.pgbench_seconds,
    )
    for result in rounds:
        submitted = result.payments - result.submit_errors if not result.partial else None
        print(
            f"[{result.label}] "
            + (
                f"PARTIAL: stopped after {result.posted_seconds:.0f} s with {result.done:,} of {result.payments:,} posted; "
                if result.partial
                else f"{result.payments:,} payments submitted in {result.submitted_seconds:.1f} s "
                f"({(submitted or 0) / result.submitted_seconds if result.submitted_seconds else 0:.1f}/s), "
                f"all posted in {result.posted_seconds:.1f} s; "
            )
            + f"done {result.done:,}, failed {result.failed:,}, submit errors {result.submit_errors:,}; "
            f"RQ jobs run {result.rq_jobs:,}; submit-to-posted latency p50 {result.latency_ms[0] / 1000:.1f} s, "
            f"p95 {result.latency_ms[1] / 1000:.1f} s, max {result.latency_ms[2] / 1000:.1f} s"
        )
        ratio = result.per_second / pgbench.tps if pgbench.tps else 0.0
        print(
            f"[{result.label}] payments posted/s: {result.per_second:.1f}   "
            f"pgbench tps ({args.pgbench_clients} clients): {pgbench.tps:.1f}   "
            f"ratio: {ratio:.3f} (target >= 0.5){'' if ratio >= 0.5 else '  BELOW TARGET'}"
        )
        print(f"[{result.label}] ledger verify: {result.verify_text}")
    print(f"load average at the end: {_common.load_average()}")
    return 0 if all(r.verify_ok for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
