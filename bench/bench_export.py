"""Export speed: a 1,000,000-row transactions CSV export, rows per second, printed beside PostgreSQL's own
COPY TO of the same query in the same run. Prints; asserts nothing (DESIGN.md).

The export reads the ledger's read model (one row per movement: its line, its amount signed as it
moves the line, at its currency's precision); the references run the very SQL text it sends.

Target (issue 7): at least 300,000 rows per second.
- inline: core.services.exports.export_to streaming COPY ... TO STDOUT into a file (what a small
  export does in the request, and what each batch of a background export does);
- background: the `export` operation end to end (request, count, keyset batches of BATCH_ROWS each
  committed with its progress, the file on disk), as a worker runs it;
- references, the same SQL text with the same parameters: psql's \\copy into a file (PostgreSQL's
  own client), and COPY ... TO '/dev/null' inside the server where the role may write server files.
Each is run --runs times; medians and bests are printed, with this process's peak memory.

What it does, all in throwaway state removed at the end (try/finally):
1. CREATE DATABASE ip_bench_<random> on --pg-server and migrate it.
2. tests.platform_seed.seed_entries: --rows ledger entries in balanced payment journals of 1,000
   entries, in one transaction (the ledger triggers check every journal), then VACUUM ANALYZE.
3. The exports, as above, into a temporary directory that is removed.

    python bench/bench_export.py [--quick] [--rows 1000000] [--runs 3] [--pg-server URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import filecmp
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-server", default=_common.DEFAULT_PG_SERVER)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 2 runs: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.runs = 100_000, 2
    return args


def line(label: str, seconds: list[float], rows: int, reference: float | None = None) -> str:
    median = statistics.median(seconds)
    text = f"{label:<44} {rows / median:>10,.0f} rows/s (median {median:6.2f} s, best {min(seconds):6.2f} s)"
    if reference:
        text += f"   = {reference / median:4.2f} x PostgreSQL's COPY"
    return text


def main() -> int:
    args = parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ip-bench-export-"))
    try:
        with _common.throwaway_database(args.pg_server) as url:
            _common.configure_environment(url, args.redis_url, f"bench-export-{secrets.token_hex(3)}")
            import psycopg
            from sqlalchemy import text

            from core import bootstrap, operations
            from core.permissions import Actor
            from core.services import exports
            from tests.platform_seed import seed_entries

            print(_common.setup_line(args.pg_server, f"{args.rows:,} rows"), flush=True)
            started = time.perf_counter()
            with bootstrap.unit_of_work() as uow:
                seed_entries(uow, total=args.rows)
                uow.commit()
            with bootstrap.engine().connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            print(f"seeded {args.rows:,} ledger entries in {time.perf_counter() - started:.0f} s", flush=True)
            with bootstrap.unit_of_work() as uow:
                admin_id = uow.session.execute(text("SELECT id FROM users WHERE role = 'admin'")).scalar_one()
            admin = Actor(admin_id, "admin", "bench-admin")

            # The exact SQL an export runs, with its parameters bound, for PostgreSQL to run alone.
            with bootstrap.unit_of_work() as uow:
                upto = uow.session.execute(text(exports.TRANSACTIONS.snapshot)).scalar_one()
            request = exports.ExportRequest.of("transactions", None, None)
            with psycopg.connect(url) as conn, psycopg.ClientCursor(conn) as cursor:
                query = " ".join(
                    cursor.mogrify(exports.TRANSACTIONS.sql(request), request.params(upto)).split()
                )

            def inline() -> int:
                with bootstrap.unit_of_work() as uow, (folder / "inline.csv").open("wb") as out:
                    return exports.export_to(admin, uow, "transactions", out)

            def background() -> int:
                with bootstrap.unit_of_work() as uow:
                    job = exports.start_export(admin, uow, "transactions", inline_limit=0, enqueue=False)
                outcome = operations.process(str(job.operation_id), bootstrap.unit_of_work)
                if outcome != "done":
                    print(f"the background export ended {outcome}")
                path = exports._path(job.operation_id)
                size = path.stat().st_size
                path.unlink()
                return size

            def psql_copy() -> None:
                target = folder / "psql.csv"
                subprocess.run(
                    [
                        "psql",
                        "-X",
                        "-q",
                        url,
                        "-c",
                        "SET jit = off",
                        "-c",
                        "SET TIME ZONE 'UTC'",
                        "-c",
                        f"\\copy ({query}) TO '{target}' WITH (FORMAT csv, HEADER true)",
                    ],
                    check=True,
                )

            def server_copy() -> None:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("SET jit = off")
                    conn.execute(f"COPY ({query}) TO '/dev/null' WITH (FORMAT csv, HEADER true)")

            timings: dict[str, list[float]] = {"inline": [], "background": [], "psql": [], "server": []}
            can_write_server_files = True
            rows = 0
            for _ in range(args.runs):
                for name, action in (
                    ("psql", psql_copy),
                    ("inline", inline),
                    ("background", background),
                    ("server", server_copy),
                ):
                    if name == "server" and not can_write_server_files:
                        continue
                    began = time.perf_counter()
                    try:
                        result = action()
                    except psycopg.errors.InsufficientPrivilege:
                        can_write_server_files = False
                        continue
                    timings[name].append(time.perf_counter() - began)
                    if name == "inline":
                        rows = result
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            same = filecmp.cmp(folder / "inline.csv", folder / "psql.csv", shallow=False)

        reference = statistics.median(timings["psql"])
        print(line("PostgreSQL COPY TO, read by psql (reference)", timings["psql"], rows))
        if timings["server"]:
            print(line("PostgreSQL COPY TO '/dev/null' in the server", timings["server"], rows, reference))
        else:
            print("PostgreSQL COPY TO '/dev/null' in the server: not permitted for this role, skipped")
        print(line("export, streamed in the request", timings["inline"], rows, reference))
        print(
            line(
                f"export operation, batches of {exports.BATCH_ROWS:,}", timings["background"], rows, reference
            )
        )
        best = rows / statistics.median(timings["inline"])
        print(
            f"rows exported: {rows:,}; the file is byte-identical to psql's: {same}; "
            f"peak memory of this process {peak:,.0f} MB"
        )
        print(
            f"target >= 300,000 rows/s: {'met' if best >= 300_000 else 'NOT met'} by the streamed export "
            f"(median; printed, not asserted)"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
