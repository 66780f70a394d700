"""Explorer speed: the analyst's Explorer page script run (AppTest), cold and warm, over --pools pools
and about a million ledger entries, printed beside one plain scan of the same ledger in the same run.
Prints; asserts nothing (DESIGN.md).

Targets (issue 14, at --pools 10000): cold at most 10x one scan of the entries, warm at most 3x.
- cold: the platform's cached aggregates are deleted from Redis (and from what the process keeps of
  them, core.cache.Cache.forget_kept) before the run, so the page reads
  the ledger's read model (core.ledger.read_model.movements) in its two set-based queries and solves
  one IRR per pool (PostgreSQL's own buffers stay warm, as on a live server);
- warm: the same page rerun with the cache in place (a click on a filter already seen, a tab): the
  pools as this process kept them, the rest from Redis.
AppTest compiles the page script on every run (a live server caches it); that cost is in both columns.
The reference is `SELECT count(*), sum(amount) FROM entries`: the cheapest possible look at every entry.

What it does, all in throwaway state removed at the end (try/finally):
1. CREATE DATABASE ip_bench_<random> on --pg-server and migrate it.
2. tests.platform_seed.seed_platform: --pools pools (every state, eight strategies, four currencies,
   ten years) and --investors investors with two commitments each, and their ledger history.
3. An analyst; the page is run --runs times cold and --runs times warm.
Redis: database 9 of --redis-url's server by default; only this run's platform:* keys are deleted.

    python bench/bench_explorer.py [--quick] [--runs 7] [--pools 1000] [--investors 29500]
                                   [--pg-server URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

ROOT = _common.ROOT


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-server", default=_common.DEFAULT_PG_SERVER)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--investors", type=int, default=29_500)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="5,000 investors, 3 runs: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.investors, args.runs = 5_000, 3
    return args


def timed(action) -> float:  # noqa: ANN001
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.0f} ms   best {min(values) * 1000:7.0f} ms"


def main() -> int:
    args = parse_args()
    with _common.throwaway_database(args.pg_server) as url:
        _common.configure_environment(url, args.redis_url, f"bench-explorer-{secrets.token_hex(3)}")
        from sqlalchemy import text
        from streamlit.testing.v1 import AppTest

        from core import bootstrap
        from core.permissions import Actor
        from core.services import platform, users
        from tests.platform_seed import seed_platform

        print(
            _common.setup_line(args.pg_server, f"{args.pools:,} pools, {args.investors:,} investors"),
            flush=True,
        )
        started = time.perf_counter()
        with bootstrap.unit_of_work() as uow:
            seed_platform(uow, pools=args.pools, investors=args.investors)
            uow.commit()
        with bootstrap.engine().connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            entries = conn.exec_driver_sql("SELECT count(*) FROM entries").scalar_one()
            pools = conn.exec_driver_sql("SELECT count(*) FROM pools").scalar_one()
        print(
            f"seeded {pools:,} pools and {entries:,} ledger entries in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        with bootstrap.unit_of_work() as uow:
            analyst_id, _ = users.create_user(
                Actor.system(),
                uow,
                "bench-analyst",
                name="Bench Analyst",
                email="bench@example.com",
                role="analyst",
                password="bench-password-1",
            )
        analyst = Actor(analyst_id, "analyst", "bench-analyst")
        redis = bootstrap.redis_client()

        def forget() -> None:
            bootstrap.resources().cache.forget_kept()
            keys = list(
                redis.scan_iter(match=bootstrap.resources().cache.full_key("platform:") + "*", count=1000)
            )
            if keys:
                redis.delete(*keys)

        def scan() -> None:
            with bootstrap.unit_of_work() as uow:
                uow.session.execute(text("SELECT count(*), sum(amount) FROM entries")).one()

        def service() -> None:
            with bootstrap.unit_of_work() as uow:
                platform.explorer(analyst, uow)

        page = AppTest.from_file(str(ROOT / "pages" / "analyst_explorer.py"), default_timeout=300)
        page.session_state["actor"] = analyst
        page.run()  # imports, first connection, first compile: not counted
        forget()

        reference = [timed(scan) for _ in range(args.runs)]
        cold_service, cold_page, warm_page = [], [], []
        for _ in range(args.runs):
            forget()
            cold_service.append(timed(service))
            forget()
            cold_page.append(timed(page.run))
            warm_page.append(timed(page.run))
        if page.exception:
            print(f"the page raised: {page.exception}")
        forget()

    warm, cold, ref = statistics.median(warm_page), statistics.median(cold_page), statistics.median(reference)
    service = statistics.median(cold_service)
    print(f"reference: one scan of {entries:,} entries    {summary(reference)}")
    print(
        f"explorer service, cold (SQL + IRRs)         {summary(cold_service)}   = {service / ref:5.1f} x reference"
    )
    print(
        f"explorer page run, cold (target <= 10x)     {summary(cold_page)}   = {cold / ref:5.1f} x reference"
    )
    print(
        f"explorer page run, warm (target <= 3x)      {summary(warm_page)}   = {warm / ref:5.1f} x reference"
    )
    print(
        f"targets: cold {'met' if cold <= 10 * ref else 'NOT met'}, warm {'met' if warm <= 3 * ref else 'NOT met'} "
        f"(medians; printed, not asserted)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
