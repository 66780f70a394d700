"""Capital call over a large pool, submit to fully posted, beside PostgreSQL's COPY of the same rows.

What it does, all in a throwaway database that is dropped at the end (try/finally):
1. CREATE DATABASE ip_bench_<random> on --pg-server and migrate it.
2. Seed a closed pool with --investors accepted commitments, set-based (core.seed.seed_scale), and,
   unless --no-worker, a second identical pool for the worker round.
3. In-process (the single-worker code path): core.operations.submit a capital call of --percent,
   then core.operations.process it to the end; time submit -> fully posted. The engine's own
   functions are wrapped with timers (no change to core) to show where the time goes, and each
   batch's commit is timestamped through process()'s on_change hook. --profile adds cProfile.
4. Unless --no-worker: the same call on the second pool through a real `python -m core worker`
   (submit with the queue, poll the operation until done).
5. The reference: COPY the call's own rows into scratch tables made with
   CREATE TABLE ... (LIKE entries INCLUDING ALL) (so the indexes match): the receivable entry per
   investor plus the clearing entry, and the call items; best of --copy-repeat, commit included.
6. Print both times and the ratio (target: the call in at most 3 s), and core.verify's verdict.

Prints; asserts nothing (DESIGN.md: tests never assert on wall-clock time).

    python bench/bench_capital_call.py [--quick] [--investors 100000] [--percent 10] [--no-worker]
                                       [--profile] [--pg-server URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

TARGET_SECONDS = 3.0


def instrument(timings: _common.Timings) -> None:
    """Timers around the functions a capital call spends its time in (wrapped, never edited)."""
    from core.ledger import posting as ledger
    from core.ledger import read_model
    from core.operations import KINDS
    from core.services import calls
    from core.uow import UnitOfWork

    call_kind = type(KINDS["capital_call"])
    for name in ("prepare", "on_submit", "_write_items", "run_batch", "finish"):
        if hasattr(call_kind, name):
            timings.wrap(call_kind, name, f"IssueCapitalCall.{name}")
    for name in ("allocation", "check", "allocate"):
        if hasattr(calls, name):
            timings.wrap(calls, name, f"calls.{name}")
    for name in ("positions", "total", "last_journal"):
        if hasattr(read_model, name):
            timings.wrap(read_model, name, f"read_model.{name}")
    for name in ("post", "post_many", "post_query", "check_lines", "bump_version"):
        if hasattr(ledger, name):
            timings.wrap(ledger, name, f"ledger.{name}")
    timings.wrap(UnitOfWork, "commit", "UnitOfWork.commit (incl. deferred balance trigger)")


def call_in_process(pool: _common.SeededPool, percent: str, profile: bool) -> dict[str, Any]:
    from core import bootstrap, operations
    from core.permissions import Actor

    manager = Actor(pool.manager_id, "fund_manager", "bench-manager")
    timings = _common.Timings()
    instrument(timings)
    batches: list[tuple[float, int, int, str]] = []
    profiler = cProfile.Profile() if profile else None
    try:
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        with bootstrap.unit_of_work() as uow:
            status = operations.submit(
                manager, uow, pool.pool_id, "capital_call", _common.call_payload(percent)
            )
        submitted = time.perf_counter()

        def changed(op: Any) -> None:
            batches.append((time.perf_counter(), op.progress_done, op.progress_total, op.status))

        outcome = operations.process(str(status.id), bootstrap.unit_of_work, on_change=changed)
        finished = time.perf_counter()
        if profiler:
            profiler.disable()
    finally:
        timings.restore()
    with bootstrap.unit_of_work() as uow:
        final = operations.operation_status(manager, uow, status.id)
    if outcome != "done":
        raise RuntimeError(f"the capital call ended {outcome}: {final.error}")
    return {
        "operation_id": str(status.id),
        "call_id": int(final.result["call_id"]),
        "items": int(final.result["items"]),
        "submit": submitted - started,
        "process": finished - submitted,
        "total": finished - started,
        "started": started,
        "submitted": submitted,
        "batches": batches,
        "timings": timings,
        "profiler": profiler,
    }


def call_via_worker(pool: _common.SeededPool, percent: str, env: dict[str, str]) -> dict[str, Any]:
    from core import bootstrap, operations
    from core.permissions import Actor

    manager = Actor(pool.manager_id, "fund_manager", "bench-manager")
    with _common.workers(1, env):
        job_queue = _common.operations_queue()
        started = time.perf_counter()
        with bootstrap.unit_of_work() as uow:
            status = operations.submit(
                manager, uow, pool.pool_id, "capital_call", _common.call_payload(percent), queue=job_queue
            )
        submitted = time.perf_counter()
        deadline = started + 600
        while True:
            with bootstrap.unit_of_work() as uow:
                current = operations.operation_status(manager, uow, status.id)
            if current.finished or time.perf_counter() > deadline:
                break
            time.sleep(0.01)
        finished = time.perf_counter()
    if current.status != "done":
        raise RuntimeError(f"the worker's capital call ended {current.status}: {current.error}")
    return {
        "operation_id": str(status.id),
        "submit": submitted - started,
        "total": finished - started,
    }


def _copy_text(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    for row in rows:
        out.write("\t".join("\\N" if value is None else str(value) for value in row))
        out.write("\n")
    return out.getvalue().encode()


def copy_reference(url: str, operation_id: str, call_id: int, repeat: int) -> dict[str, Any]:
    """COPY the call's own entry rows and call item rows into scratch tables shaped LIKE the real
    ones (INCLUDING ALL: indexes, checks, defaults); best of `repeat`, each into fresh tables."""
    import psycopg

    # kind and day too: the real rows carry their journal's (migration 0007), so the copies must.
    entry_columns = "journal_id, pool_id, investor_id, account, currency, side, amount, kind, day"
    item_columns = "call_id, commitment_id, investor_id, amount_due"
    with psycopg.connect(url) as conn:
        entries = conn.execute(
            f"SELECT {', '.join('e.' + c.strip() for c in entry_columns.split(','))} FROM entries e "
            "JOIN journals j ON j.id = e.journal_id WHERE j.operation_id = %s ORDER BY e.id",
            (operation_id,),
        ).fetchall()
        items = conn.execute(
            f"SELECT {item_columns} FROM call_items WHERE call_id = %s ORDER BY id", (call_id,)
        ).fetchall()
        conn.rollback()
        data = {"entries": _copy_text(entries), "call_items": _copy_text(items)}
        columns = {"entries": entry_columns, "call_items": item_columns}
        best: dict[str, float] = {}
        for _ in range(repeat):
            for table in ("entries", "call_items"):
                scratch = f"scratch_{table}"
                conn.execute(f"DROP TABLE IF EXISTS {scratch}")
                conn.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)")
                conn.commit()
                started = time.perf_counter()
                with (
                    conn.cursor() as cursor,
                    cursor.copy(f"COPY {scratch} ({columns[table]}) FROM STDIN") as copy,
                ):
                    copy.write(data[table])
                conn.commit()
                elapsed = time.perf_counter() - started
                best[table] = min(best.get(table, elapsed), elapsed)
                conn.execute(f"DROP TABLE {scratch}")
                conn.commit()
    return {"entries_rows": len(entries), "items_rows": len(items), **best}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--investors", type=int, default=100_000)
    parser.add_argument("--percent", default="10", help="the call, as a percentage of commitments")
    parser.add_argument("--pg-server", default=_common.DEFAULT_PG_SERVER)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    parser.add_argument("--no-worker", action="store_true", help="skip the round through a real worker")
    parser.add_argument("--copy-repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process call")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 investors")
    args = parser.parse_args(argv)
    _common.exit_cleanly_on_sigterm()
    if args.quick:
        args.investors = min(args.investors, 5_000)

    print(
        _common.setup_line(
            args.pg_server,
            f"N = {args.investors:,} investors (one call item and one receivable entry each), "
            f"call of {args.percent}% of commitments",
        ),
        flush=True,
    )
    queue_name = f"bench-call-{secrets.token_hex(4)}"
    job_ids: set[str] = set()
    ok = True
    with _common.throwaway_database(args.pg_server) as url:
        env = _common.configure_environment(url, args.redis_url, queue_name)
        _common.reset_core_caches()
        try:
            from sqlalchemy import text

            from core import bootstrap
            from core.verify import verify

            pool = _common.seed_closed_pool(args.investors)
            second = None if args.no_worker else _common.seed_closed_pool(args.investors)
            print(
                f"seeded {args.investors:,} investors into a closed pool in {pool.seconds:.1f} s"
                + (
                    ""
                    if second is None
                    else f" (and a second pool for the worker round in {second.seconds:.1f} s)"
                ),
                flush=True,
            )

            result = call_in_process(pool, args.percent, args.profile)
            print(
                f"capital call in-process (core.operations.process): {result['items']:,} call items; "
                f"submit {result['submit']:.2f} s + processing {result['process']:.2f} s "
                f"= submit-to-posted {result['total']:.2f} s",
                flush=True,
            )
            previous = result["submitted"]
            for when, done, total, status in result["batches"]:
                print(
                    f"  batch committed at +{when - result['started']:.2f} s "
                    f"(took {when - previous:.2f} s): {done:,}/{total:,} posted, status {status}"
                )
                previous = when
            timings: _common.Timings = result["timings"]
            print("  where the time goes (wall time inside each function, nested ones overlap):")
            for label, seconds in sorted(timings.seconds.items(), key=lambda kv: -kv[1]):
                print(f"    {seconds:7.2f} s  {timings.calls[label]:>4} call(s)  {label}")
            if result["profiler"] is not None:
                buffer = io.StringIO()
                stats = pstats.Stats(result["profiler"], stream=buffer)
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(20)
                print(buffer.getvalue())

            worker = None
            if second is not None:
                worker = call_via_worker(second, args.percent, env)
                print(
                    f"capital call via a real worker (python -m core worker): "
                    f"submit-to-posted {worker['total']:.2f} s (submit {worker['submit']:.2f} s)",
                    flush=True,
                )

            reference = copy_reference(url, result["operation_id"], result["call_id"], args.copy_repeat)
            both = reference["entries"] + reference["call_items"]
            print(
                f"COPY into scratch tables LIKE the real ones (best of {args.copy_repeat}, commit included): "
                f"{reference['entries_rows']:,} entry rows {reference['entries']:.2f} s, "
                f"{reference['items_rows']:,} call item rows {reference['call_items']:.2f} s, "
                f"together {both:.2f} s"
            )
            verdict = "MET" if result["total"] <= TARGET_SECONDS else "MISSED"
            print(
                f"capital call submit-to-posted: {result['total']:.2f} s   "
                f"COPY of {reference['entries_rows']:,} entry rows: {reference['entries']:.2f} s   "
                f"ratio: {result['total'] / reference['entries']:.1f}x "
                f"({result['total'] / both:.1f}x entries + call items COPY)   "
                f"target <= {TARGET_SECONDS:.0f} s: {verdict}"
                + ("" if worker is None else f"   (via a worker: {worker['total']:.2f} s)")
            )

            with bootstrap.unit_of_work() as uow:
                report = verify(uow.session)
                job_ids = {str(i) for i in uow.session.execute(text("SELECT id FROM operations")).scalars()}
            ok = report.ok
            print(
                "ledger verify: OK" if report.ok else "ledger verify: VIOLATIONS FOUND\n" + report.summary()
            )
            print(f"load average at the end: {_common.load_average()}")
        finally:
            _common.cleanup_redis(args.redis_url, queue_name, job_ids)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
