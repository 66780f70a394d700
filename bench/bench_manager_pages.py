"""Fund manager pages at 5,000 investors: script runs of every manager page (AppTest from Home.py,
warm cache; the capital calls page in each of its views), and a capital call over every investor
from submission to posted by a real `python -m core worker`, twice over:

- service level: calls.issue with the previewed command (as the page submits it), then polling
  operations.operation_status;
- click path: the capital calls page in AppTest, a previewed call issued by "Issue this call" and
  its confirmation's "Yes", then the page's own progress fragment rerun on its timer (run_every, as
  the browser does: the fragment alone, not the page) until the page says the call is issued. Timed
  from the click on "Yes". Beside it, when the worker had posted it (a side poll).

Targets (issue 6): at most 500 ms per page script run with a warm cache; at most 1 s from click to
posted for the call. Each figure is printed beside a reference measured in the same run: an empty
page's AppTest script run, so what the page itself costs stands out from AppTest's own overhead.
Prints; asserts nothing (DESIGN.md: tests never assert on wall-clock time).

All state is throwaway: a database ip_bench_<random> (dropped at the end), a queue of this run's own,
this run's RQ keys and cache keys removed from Redis.

    python bench/bench_manager_pages.py [--investors 5000] [--runs 15] [--calls 3] [--clicks 3]
                                        [--payments 100] [--workers 1] [--pg-server URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import math
import secrets
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-manager-password"
ROUTER_ONLY = """
import streamlit as st

from app import webapp

if webapp.current_actor() is None:
    st.navigation([st.Page(webapp.login_page, title="Log in")], position="hidden").run()
else:
    st.title("Empty page")
"""
CALLS = "pages/manager_calls.py"
CORRECTIONS = "pages/manager_corrections.py"
# label -> (page, session state set before its runs: a view chosen on the page)
PAGES = {
    "my pools": ("pages/manager_pools.py", {}),
    "pool dashboard": ("pages/manager_dashboard.py", {}),
    "commitments": ("pages/manager_commitments.py", {}),
    "capital calls: issue": (CALLS, {"calls-view": "Issue a call"}),
    "capital calls: book": (CALLS, {"calls-view": "Calls and payments"}),
    "capital calls: investors": (CALLS, {"calls-view": "By investor"}),
    "portfolio": ("pages/manager_portfolio.py", {}),
    "distributions": ("pages/manager_distributions.py", {}),
    "corrections": (CORRECTIONS, {}),
}


def ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms, p95 {p95 * 1000:7.1f} ms"


def seed(investors: int, pending: int) -> tuple[int, Any]:
    """The pool: `investors` accepted commitments set-based, closed; `pending` more waiting for review;
    managed by a manager who can log in."""
    from sqlalchemy import text

    from core import bootstrap
    from core.permissions import Actor
    from core.services.users import create_user

    pool = _common.seed_closed_pool(investors)
    with bootstrap.unit_of_work() as uow:
        manager_id, _ = create_user(
            Actor.system(),
            uow,
            "bench-manager",
            name="Bench Manager",
            email="bench@example.com",
            role="fund_manager",
            password=PASSWORD,
            kyc_status="approved",
        )
    with bootstrap.unit_of_work() as uow:
        uow.session.execute(
            text("UPDATE pools SET manager_id = :m WHERE id = :p"), {"m": manager_id, "p": pool.pool_id}
        )
        uow.session.execute(
            text(
                """WITH fresh AS (
                       INSERT INTO users (username, name, email, role, kyc_status, accreditation, password_hash)
                       SELECT 'bench_pending_' || g, 'Pending Investor ' || g, 'p' || g || '@example.com',
                              'investor', 'approved', 'accredited', 'x'
                         FROM generate_series(1, :n) g RETURNING id)
                   INSERT INTO commitments (pool_id, investor_id, amount_requested)
                   SELECT :p, id, 25000 FROM fresh"""
            ),
            {"n": pending, "p": pool.pool_id},
        )
        uow.session.execute(text("UPDATE pools SET version = version + 1 WHERE id = :p"), {"p": pool.pool_id})
        uow.commit()
    print(f"seeded {investors:,} investors (+{pending} pending) in {pool.seconds:.1f} s", flush=True)
    return pool.pool_id, Actor(manager_id, "fund_manager", "bench-manager")


def call_request(purpose: str) -> dict[str, Any]:
    return {"percent": "5", "purpose": purpose}


def time_calls(pool_id: int, manager: Any, calls_: int) -> tuple[list[float], list[float], set[str]]:
    """Issue each previewed call as the page does (calls.issue, queued) and poll until posted."""
    from core import bootstrap, operations
    from core.services import calls

    totals, submits, job_ids = [], [], set()
    for n in range(calls_):
        with bootstrap.unit_of_work() as uow:
            command = calls.preview(manager, uow, pool_id, call_request(f"bench call {n + 1}")).command
        started = time.perf_counter()
        with bootstrap.unit_of_work() as uow:
            status = calls.issue(manager, uow, command)
        submitted = time.perf_counter()
        job_ids.add(str(status.id))
        while True:
            with bootstrap.unit_of_work() as uow:
                status = operations.operation_status(manager, uow, status.id)
            if status.finished:
                break
            if time.perf_counter() - started > 300:
                raise RuntimeError("the capital call did not finish within 300 s")
            time.sleep(0.005)
        if status.status != "done":
            raise RuntimeError(f"the capital call failed: {status.error}")
        totals.append(time.perf_counter() - started)
        submits.append(submitted - started)
        print(
            f"  call {n + 1}: {status.progress_total:,} investors, submitted in {submits[-1] * 1000:.0f} ms, "
            f"posted {totals[-1] * 1000:.0f} ms after submission began",
            flush=True,
        )
    return totals, submits, job_ids


def log_in(at: Any) -> Any:
    """An AppTest session logged in as the bench manager through the login form."""
    at.run()
    at.text_input[0].input("bench-manager")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    if at.exception or "actor" not in at.session_state or at.session_state["actor"] is None:
        raise RuntimeError(f"the bench manager could not log in: {at.exception}")
    return at


POSTED = "is issued:"  # the page's message once the call is posted: "Capital call 4 (...) is issued: ..."


def time_call_clicks(
    pool_id: int, manager: Any, clicks: int, investors: int
) -> tuple[list[float], list[float], list[float], list[float], set[str]]:
    """Issue calls on the capital calls page as a manager does, timed from the click on "Issue this
    call" until the page shows the call posted, its progress fragment rerun on the browser's timer.

    Returns, per call: the click's own script run (submission and redraw, the bar drawn), click to
    posted by the worker (a side poll of the operation, every 5 ms), click to the page showing it
    posted (what the person sees), and the fragment's interval; plus the operations' ids."""
    from streamlit.testing.v1 import AppTest

    from core import bootstrap, operations
    from tests.app.manager_support import run_recording_live_fragments, tick_fragments

    at = log_in(AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120))
    at.session_state["manager_pool_id"] = pool_id
    at.switch_page(CALLS).run()  # cold: imports, caches
    click_runs, posted, shown, intervals, job_ids = [], [], [], [], set()
    for n in range(clicks):
        form = f"capital-call-{at.session_state.get('_form_generation_capital-call', 0)}"
        at.text_input(key=f"{form}-value").input("5")
        at.text_input(key=f"{form}-purpose").input(f"bench click call {n + 1}")
        at.button(key=f"{form}-preview").click().run()
        stored = at.session_state.get("_call_preview")
        if at.exception or at.error or stored is None or len(stored[2].lines) != investors:
            raise RuntimeError(f"the call preview failed: {at.exception or [e.value for e in at.error]}")
        at.button(key="capital-call-ask").click().run()  # the question: what will be issued
        yes = at.button(key="capital-call-yes")

        started = time.perf_counter()
        yes.click()
        live = run_recording_live_fragments(at)  # the click's script run: submits, draws the bar
        clicked = time.perf_counter()
        operation_id = at.session_state["_following"]["capital-call"]
        job_ids.add(operation_id)
        if len(live) != 1:
            raise RuntimeError(f"expected the one progress fragment on the page, found {live}")
        [(fragment_id, interval)] = live.items()

        finished_at: list[float] = []

        def side_poll(operation_id: str = operation_id, finished_at: list[float] = finished_at) -> None:
            deadline = time.perf_counter() + 300
            while time.perf_counter() < deadline:
                with bootstrap.unit_of_work() as uow:
                    if operations.operation_status(manager, uow, operation_id).finished:
                        finished_at.append(time.perf_counter())
                        return
                time.sleep(0.005)

        poller = threading.Thread(target=side_poll, daemon=True)
        poller.start()
        # The browser reruns the fragment every `interval` seconds after the click's run drew it.
        next_tick = clicked + interval
        while not any(POSTED in s.value for s in at.success):
            if time.perf_counter() - started > 300:
                raise RuntimeError("the page did not show the call posted within 300 s")
            time.sleep(max(0.0, next_tick - time.perf_counter()))
            next_tick = max(next_tick + interval, time.perf_counter())
            tick_fragments(at, [fragment_id])  # when done, the fragment reruns the whole page
            if at.error:
                raise RuntimeError(f"the call failed: {[e.value for e in at.error]}")
        done = time.perf_counter()
        poller.join(timeout=300)
        if not finished_at:
            raise RuntimeError("the side poll never saw the call finish")
        click_runs.append(clicked - started)
        posted.append(finished_at[0] - started)
        shown.append(done - started)
        intervals.append(interval)
        print(
            f"  click {n + 1}: click run {click_runs[-1] * 1000:.0f} ms, posted by the worker "
            f"{posted[-1] * 1000:.0f} ms after the click, shown posted on the page "
            f"{shown[-1] * 1000:.0f} ms after the click (fragment every {interval:g} s)",
            flush=True,
        )
    return click_runs, posted, shown, intervals, job_ids


def time_call_in_process(pool_id: int, manager: Any) -> float:
    """The same call processed right here, no queue and no worker: what the work itself costs."""
    from core import bootstrap, operations
    from core.services import calls

    with bootstrap.unit_of_work() as uow:
        command = calls.preview(manager, uow, pool_id, call_request("bench call, in-process")).command
        status = operations.submit(manager, uow, pool_id, calls.KIND, command.payload())
    started = time.perf_counter()
    if operations.process(str(status.id), bootstrap.unit_of_work) != "done":
        raise RuntimeError("the in-process capital call did not complete")
    return time.perf_counter() - started


def history(pool_id: int, manager: Any, payments_: int) -> None:
    """Some paid-in capital, an investment, a mark and a distribution, so every chart has data;
    each through its typed command, processed in-process."""
    from sqlalchemy import select

    from core import bootstrap, operations
    from core.ledger import read_model
    from core.services import distributions, investments, payments
    from db.models import CallItem, CapitalCall
    from tests import approving

    def run(preview: Any, submit: Any, request: dict[str, Any]) -> None:
        with bootstrap.unit_of_work() as uow:
            status = submit(manager, uow, preview(manager, uow, pool_id, request).command)
        if operations.process(str(status.id), bootstrap.unit_of_work) != "done":
            raise RuntimeError(f"{status.kind} did not complete")

    with bootstrap.unit_of_work() as uow:
        items = uow.session.execute(
            select(CallItem.id, CallItem.amount_due, CallItem.version)
            .join(CapitalCall)
            .where(CapitalCall.pool_id == pool_id)
            .order_by(CallItem.id)
            .limit(payments_)
        ).all()
    for item_id, due, version in items:
        request = {
            "call_item_id": item_id,
            "amount": str(due),
            "reference": f"B{item_id}",
            "item_version": version,
        }
        run(payments.preview, payments.record, request)
    with bootstrap.unit_of_work() as uow:
        cash = read_model.pool_books(uow.session, pool_id, as_of=None).cash
    run(
        investments.preview_investment,
        investments.invest,
        {"company": "Bench Co", "amount": str((cash / 2).quantize(Decimal(1)))},
    )
    with bootstrap.unit_of_work() as uow:
        [(company_id, _)] = investments.companies(uow, pool_id)
    run(
        investments.preview_mark,
        investments.mark,
        {"company_id": company_id, "value": str(cash.quantize(Decimal(1))), "note": "bench mark"},
    )
    run(
        distributions.preview,
        approving.distribute,
        {"proceeds": str((cash / 4).quantize(Decimal(1))), "memo": "bench distribution"},
    )


def time_pages(pool_id: int, runs: int) -> dict[str, list[float]]:
    from streamlit.testing.v1 import AppTest

    results: dict[str, list[float]] = {}
    empty = AppTest.from_string("import streamlit as st\n\nst.title('Empty page')", default_timeout=60)
    empty.run()
    results["reference: empty page"] = []
    for _ in range(runs):
        started = time.perf_counter()
        empty.run()
        results["reference: empty page"].append(time.perf_counter() - started)

    # The same login check every page run pays in Home.py, then nothing: what a page adds is the rest.
    router = log_in(AppTest.from_string(ROUTER_ONLY, default_timeout=60))
    results["reference: login check + empty page"] = []
    for _ in range(runs):
        started = time.perf_counter()
        router.run()
        results["reference: login check + empty page"].append(time.perf_counter() - started)

    from app import webapp

    if CORRECTIONS not in [spec.path for spec in webapp.PAGES["fund_manager"]]:  # until it is listed
        webapp.PAGES["fund_manager"].append(webapp.PageSpec(CORRECTIONS, "Corrections", ":material/undo:"))
    at = log_in(AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60))
    for label, (page, state) in PAGES.items():
        at.session_state["manager_pool_id"] = pool_id
        for key, value in state.items():
            at.session_state[key] = value
        at.switch_page(page).run()  # cold: fills the cache
        if at.exception:
            raise RuntimeError(f"{page} raised: {at.exception}")
        results[label] = []
        for _ in range(runs):
            started = time.perf_counter()
            at.run()
            results[label].append(time.perf_counter() - started)
        if at.exception or at.error:
            raise RuntimeError(f"{page}: {at.exception or [e.value for e in at.error]}")
    return results


def drop_cache_keys(redis_url: str, pool_id: int) -> None:
    import redis

    from core import bootstrap

    client = redis.Redis.from_url(redis_url)

    for pattern in (bootstrap.resources().cache.full_key(f"manager:*:{pool_id}:*"),):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--investors", type=int, default=5_000)
    parser.add_argument("--pending", type=int, default=40, help="pending commitments to review")
    parser.add_argument("--runs", type=int, default=15, help="warm script runs per page")
    parser.add_argument("--calls", type=int, default=3, help="capital calls timed (5%% each)")
    parser.add_argument(
        "--clicks",
        type=int,
        default=3,
        help="capital calls issued by a click on the page (5%% each; 0: none)",
    )
    parser.add_argument("--payments", type=int, default=100, help="investors who pay the first call")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (a call's notices render as jobs of their own, which may queue before the next call)",
    )
    parser.add_argument("--pg-server", default=_common.DEFAULT_PG_SERVER)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    args = parser.parse_args(argv)

    queue = f"bench-manager-{secrets.token_hex(4)}"
    print(
        _common.setup_line(args.pg_server, f"{args.investors:,} investors, Redis {args.redis_url}"),
        flush=True,
    )
    job_ids: set[str] = set()
    pool_id = None
    with _common.throwaway_database(args.pg_server) as url:
        env = _common.configure_environment(url, args.redis_url, queue)
        try:
            pool_id, manager = seed(args.investors, args.pending)
            drop_cache_keys(args.redis_url, pool_id)
            with _common.workers(args.workers, env):
                totals, submits, job_ids = time_calls(pool_id, manager, args.calls)
                if args.clicks:
                    print("issuing calls by a click on the capital calls page (AppTest):", flush=True)
                clicks = (
                    time_call_clicks(pool_id, manager, args.clicks, args.investors) if args.clicks else None
                )
                if clicks is not None:
                    job_ids |= clicks[-1]
            in_process = time_call_in_process(pool_id, manager)
            history(pool_id, manager, args.payments)
            pages = time_pages(pool_id, args.runs)
        finally:
            if pool_id is not None:
                drop_cache_keys(args.redis_url, pool_id)
            _common.cleanup_redis(args.redis_url, queue, job_ids)

    reference = statistics.median(pages["reference: empty page"])
    print(f"\nscript runs (AppTest, warm cache, {args.runs} runs each):")
    for label, seconds in pages.items():
        ratio = statistics.median(seconds) / reference if reference else 0.0
        target = (
            ""
            if label.startswith("reference")
            else ("   (target <= 500 ms" + (")" if statistics.median(seconds) <= 0.5 else ": ABOVE)"))
        )
        print(f"  {label:<36} {ms(seconds)}   x{ratio:5.1f} the empty page{target}")
    print(f"\ncapital call over {args.investors:,} investors, submission to posted ({args.calls} calls):")
    print(f"  submit (validate, allocate, write the operation): {ms(submits)}")
    print(
        f"  submit to posted:                                  {ms(totals)}   "
        f"x{statistics.median(totals) / reference:.0f} the empty page   (target <= 1 s"
        + (")" if statistics.median(totals) <= 1 else ": ABOVE)")
    )
    print(f"  of which the worker's processing alone, run in-process without RQ: {in_process * 1000:7.1f} ms")
    if clicks is None:
        return 0
    click_runs, posted, shown, intervals, _ = clicks
    print(
        f"\ncapital call over {args.investors:,} investors, click to posted on the capital calls page "
        f"({args.clicks} calls, AppTest, the progress fragment rerun every {max(intervals):g} s):"
    )
    print(f"  the click's script run (submit, redraw, bar drawn): {ms(click_runs)}")
    print(
        f"  click to posted by the worker:                      {ms(posted)}   (target <= 1 s"
        + (")" if statistics.median(posted) <= 1 else ": ABOVE)")
    )
    print(
        f"  click to the page showing it posted:                {ms(shown)}   (target <= 1 s"
        + (")" if statistics.median(shown) <= 1 else ": ABOVE)")
    )
    ticks = [math.ceil(max(p - c, 0) / i) for p, c, i in zip(posted, click_runs, intervals, strict=True)]
    print(
        f"  beside the service level above (submit to posted {statistics.median(totals) * 1000:.0f} ms "
        f"median); the page waits for its next fragment tick, {statistics.median(ticks):g} tick(s) "
        "after the click's run in the median"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
