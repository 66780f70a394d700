"""Capital call notices over a large pool: render, store and queue them all, beside the PDF library alone;
and the call's own posting time with notices on and off.

What it does, all in a throwaway database dropped at the end (try/finally) and a Redis queue of its own:
1. Seed closed pools of --investors accepted commitments each, set-based (bench/_common); post one
   call as a warm-up.
2. The posting, --rounds times each way, alternating: a capital call submitted and processed in-process
   (core.operations.process, the worker's code path) with notices on (the call's last batch writes one
   outbox row per call item by one INSERT ... SELECT) and off (that one call replaced by a no-op).
   Printed: each time, the medians, and how much slower notices make the posting.
3. The notices of one call: rendered from the ledger into PDFs, stored in the vault and each queued
   as its send job (mail on, pointed at a port nobody reads: nothing is sent), batch by batch as
   jobs.notices.render_notices does; time and rate.
4. The reference, in the same run: fpdf2 alone rendering the same one-page notice (the HTML already
   filled in, the same fonts), documents per second; and the ratio of the two rates.

Prints; asserts nothing (DESIGN.md: tests never assert on wall-clock time).

    python bench/bench_notices.py [--investors 2100] [--rounds 5] [--reference 200]
                                  [--pg-server URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402


def post_call(pool: _common.SeededPool) -> float:
    """Submit and process one capital call in-process; seconds from submit to posted."""
    from core import bootstrap, operations
    from core.permissions import Actor

    manager = Actor(pool.manager_id, "fund_manager", "bench-manager")
    started = time.perf_counter()
    with bootstrap.unit_of_work() as uow:
        status = operations.submit(manager, uow, pool.pool_id, "capital_call", _common.call_payload("10"))
    outcome = operations.process(str(status.id), bootstrap.unit_of_work)
    elapsed = time.perf_counter() - started
    if outcome != "done":
        raise RuntimeError(f"the capital call ended {outcome}")
    return elapsed


def posting_rounds(
    pools: list[_common.SeededPool], rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """Alternate notices on and off (which goes first alternates too); also time the outbox write."""
    from core.services import notices

    hook = notices.capital_call_issued
    outbox: list[float] = []

    def timed_hook(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        hook(*args, **kwargs)
        outbox.append(time.perf_counter() - started)

    on: list[float] = []
    off: list[float] = []
    post_call(pools.pop())  # warm-up (caches, plans, connections), notices on: its call is rendered below
    for n in range(rounds):
        for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
            pool = pools.pop()
            if mode == "on":
                notices.capital_call_issued = timed_hook  # type: ignore[assignment]
                try:
                    on.append(post_call(pool))
                finally:
                    notices.capital_call_issued = hook  # type: ignore[assignment]
            else:
                notices.capital_call_issued = lambda *args, **kwargs: None  # type: ignore[assignment]
                try:
                    off.append(post_call(pool))
                finally:
                    notices.capital_call_issued = hook  # type: ignore[assignment]
    return on, off, outbox


def render_store_queue(pool_id: int) -> dict[str, Any]:
    """Render every pending notice of the pool's call, store the PDFs, queue their send jobs."""
    from sqlalchemy import func, select

    from core import bootstrap
    from core.services import notices
    from db.models import Notice

    with bootstrap.unit_of_work() as uow:
        total = uow.session.execute(
            select(func.count()).where(Notice.pool_id == pool_id, Notice.status == "pending")
        ).scalar_one()
    queue = bootstrap.queue()
    sends = notices.notices_queue(queue)  # where send jobs go (the operations queue is for operations)
    before = sends.count
    rendered = 0
    started = time.perf_counter()
    while True:
        with bootstrap.unit_of_work() as uow:
            batch = notices.render_pending(uow)
            uow.commit()
        if not batch.count:
            break
        rendered += batch.count
        notices.enqueue_sends(queue, batch.ready)
    elapsed = time.perf_counter() - started
    with bootstrap.unit_of_work() as uow:
        ready, stored = uow.session.execute(
            select(func.count().filter(Notice.status == "ready"), func.count(Notice.document_id)).where(
                Notice.pool_id == pool_id
            )
        ).one()
    return {
        "notices": total,
        "rendered": rendered,
        "ready": ready,
        "stored": stored,
        "queued": sends.count - before,
        "seconds": elapsed,
    }


def library_alone(pool_id: int, count: int) -> dict[str, Any]:
    """fpdf2 alone rendering one of the call's notices `count` times: the same filled-in page (the
    template rendered once), the same fonts; no database, no template engine, no storing."""
    from fpdf import FPDF
    from sqlalchemy import select

    from core import bootstrap
    from core.documents import branding, render_html
    from core.documents.render import FONT
    from core.services import notices
    from db.models import Notice

    with bootstrap.unit_of_work() as uow:
        notice_id = uow.session.execute(
            select(Notice.id).where(Notice.pool_id == pool_id).order_by(Notice.id).limit(1)
        ).scalar_one()
        template, figures = notices.notice_figures(uow, notice_id)
    html = render_html(template, {"notice": figures, "kind": "capital_call"})
    look = branding()
    pages = 0
    started = time.perf_counter()
    for _ in range(count):
        pdf = FPDF(format="A4")
        pdf.add_font(FONT, "", str(look.font_regular))
        pdf.add_font(FONT, "B", str(look.font_bold))
        pdf.add_page()
        pdf.set_font(FONT, size=9.5)
        pdf.write_html(html, font_family=FONT)
        pages += len(pdf.pages)
        pdf.output()
    return {"documents": count, "pages": pages, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--investors", type=int, default=2_100)
    parser.add_argument(
        "--rounds", type=int, default=5, help="capital calls posted each way, notices on and off"
    )
    parser.add_argument("--reference", type=int, default=200, help="documents fpdf2 renders alone")
    parser.add_argument("--pg-server", default=_common.DEFAULT_PG_SERVER)
    parser.add_argument("--redis-url", default=_common.DEFAULT_REDIS_URL)
    args = parser.parse_args(argv)
    _common.exit_cleanly_on_sigterm()
    print(
        _common.setup_line(
            args.pg_server,
            f"N = {args.investors:,} investors, one capital call notice each; {args.rounds} calls posted "
            "with notices on and as many off",
        ),
        flush=True,
    )
    queue_name = f"bench-notices-{secrets.token_hex(4)}"
    with _common.throwaway_database(args.pg_server) as url:
        _common.configure_environment(url, args.redis_url, queue_name)
        # Mail on, so each rendered notice is queued to send; no worker runs, nothing is sent.
        os.environ.update(
            SMTP_HOST="127.0.0.1", SMTP_PORT="9", SMTP_TLS="off", MAIL_FROM="bench@fund.example"
        )
        _common.reset_core_caches()
        try:
            pools = [_common.seed_closed_pool(args.investors) for _ in range(2 * args.rounds + 1)]
            print(f"seeded {len(pools)} closed pools of {args.investors:,} investors", flush=True)
            on, off, outbox = posting_rounds(pools, args.rounds)
            slower = statistics.median(on) / statistics.median(off) - 1
            print(
                "capital call posting, submit to posted (in-process), notices on:  "
                + ", ".join(f"{s:.3f}" for s in on)
                + f" s; median {statistics.median(on):.3f} s",
                flush=True,
            )
            print(
                "capital call posting, submit to posted (in-process), notices off: "
                + ", ".join(f"{s:.3f}" for s in off)
                + f" s; median {statistics.median(off):.3f} s",
            )
            paired = statistics.median(a - b for a, b in zip(on, off, strict=True))
            print(
                f"notices make the posting {slower:+.1%} slower by the medians, {min(on) / min(off) - 1:+.1%} by the "
                f"best of each, {paired / statistics.median(off):+.1%} by the median difference of each round's two "
                f"calls (target: at most +10%); the outbox write itself (one INSERT ... SELECT of "
                f"{args.investors:,} rows and its batch) median {statistics.median(outbox) * 1000:.1f} ms",
                flush=True,
            )
            from sqlalchemy import func, select, update

            from core import bootstrap
            from db.models import Notice, NoticeBatch

            with bootstrap.unit_of_work() as uow:
                first = uow.session.execute(
                    select(NoticeBatch).order_by(NoticeBatch.id).limit(1)
                ).scalar_one()
                pool_id = uow.session.get_one(Notice, first.first_id).pool_id
                # Only the first call's notices are rendered here: the other calls' batches are closed.
                uow.session.execute(
                    update(NoticeBatch).where(NoticeBatch.id != first.id).values(rendered_at=func.now())
                )
                uow.commit()
            done = render_store_queue(pool_id)
            rate = done["rendered"] / done["seconds"]
            print(
                f"notices of one call: {done['rendered']:,} rendered from the ledger, {done['stored']:,} PDFs stored "
                f"in the vault, {done['queued']:,} send jobs queued in {done['seconds']:.1f} s = {rate:.1f} notices/s "
                f"({1000 / rate:.1f} ms each)",
                flush=True,
            )
            alone = library_alone(pool_id, args.reference)
            library_rate = alone["documents"] / alone["seconds"]
            print(
                f"fpdf2 alone, the same one-page notice ({alone['pages'] // alone['documents']} page), "
                f"{alone['documents']} times: {library_rate:.1f} documents/s ({1000 / library_rate:.1f} ms each); "
                f"notices end to end run at {rate / library_rate:.2f}x the library's rate",
                flush=True,
            )
        finally:
            _common.cleanup_redis(args.redis_url, queue_name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
