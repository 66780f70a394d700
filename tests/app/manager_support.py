"""Helpers for the fund manager's AppTest suites: log in through Home.py, find widgets, run a real worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import psutil
from sqlalchemy import select, text
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
from streamlit.testing.v1 import AppTest, local_script_runner

from app import webapp
from core import clock, operations
from core.permissions import Actor
from core.services import calls, distributions, fees, investments, payments, pools
from db.models import CallItem, CapitalCall, Payment
from tests import approving

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"  # the Factory's default
TIMEOUT = 30


def logged_in(username: str, password: str = PASSWORD) -> AppTest:
    """A new session of the whole app, logged in through the login form."""
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def goto(at: AppTest, page: str, **state: Any) -> AppTest:
    """Switch to a page, with session state set first (e.g. the chosen pool)."""
    for name, value in state.items():
        at.session_state[name] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def successes(at: AppTest) -> list[str]:
    return [s.value for s in at.success]


def button(at: AppTest, label: str) -> Any:
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r} among {[b.label for b in at.button]}"
    return found[0]


def page_text(at: AppTest) -> str:
    """Everything the page wrote as text (titles, markdown, captions, metrics, messages, progress)."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    parts += [str(getattr(e, "proto", "")) for e in at.get("progress")]
    parts += [str(o) for s in at.selectbox for o in s.options]
    return "\n".join(parts)


def rerun_until(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 30, what: str = "") -> AppTest:
    """Rerun the page (as the live fragment would) until done(at) holds."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; errors {errors(at)}; text:\n{page_text(at)}")
        time.sleep(0.3)


def run_recording_live_fragments(at: AppTest) -> dict[str, float]:
    """A full run of the page; returns the fragments it asked the browser to rerun on a timer
    (st.fragment(run_every=...)): fragment id -> seconds between reruns."""
    sent: list[Any] = []
    parse = local_script_runner.parse_tree_from_messages

    def keep(messages: list[Any]) -> Any:
        sent.extend(messages)
        return parse(messages)

    with mock.patch.object(local_script_runner, "parse_tree_from_messages", keep):
        at.run()
    assert not at.exception, at.exception
    return {m.auto_rerun.fragment_id: m.auto_rerun.interval for m in sent if m.HasField("auto_rerun")}


def tick_fragments(at: AppTest, fragment_ids: list[str]) -> AppTest:
    """What the browser does when a run_every timer fires: rerun only these fragments, not the page.

    The elements of this run are the fragments' alone (the page around them did not run); the
    page hash and page list are kept, so a later at.run() is the same page's full run again."""
    page, pages = at._finished_page_script_hash, at._registered_pages
    auto_rerun = partial(RerunData, fragment_id_queue=list(fragment_ids), is_auto_rerun=True)
    with mock.patch.object(local_script_runner, "RerunData", auto_rerun):
        at.run()
    at._finished_page_script_hash, at._registered_pages = page, pages
    assert not at.exception, at.exception
    return at


@contextlib.contextmanager
def deferred_downloads() -> Iterator[dict[str, Callable[[], Any]]]:
    """The data callables of st.download_button(data=callable) registered while inside, by the
    deferred file id the button carries (what the browser asks for when the button is clicked)."""
    registered: dict[str, Callable[[], Any]] = {}
    add = MediaFileManager.add_deferred

    def keep(self: MediaFileManager, data: Callable[[], Any], *args: Any, **kwargs: Any) -> str:
        file_id = add(self, data, *args, **kwargs)
        registered[file_id] = data
        return file_id

    with mock.patch.object(MediaFileManager, "add_deferred", keep):
        yield registered


@contextlib.contextmanager
def real_worker() -> Iterator[subprocess.Popen[bytes]]:
    """`python -m core worker` on this run's database, Redis and queue; always stopped, horses included."""
    log = Path(tempfile.mkdtemp(prefix="ip-manager-worker-")) / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "worker"],
            cwd=ROOT,
            env={**os.environ, "SWEEP_INTERVAL_SECONDS": "1", "SWEEP_PENDING_AFTER_SECONDS": "2"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        for child in children:  # RQ's work horses live in process groups of their own
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


# --- confirmations, corrections page, and a fund's history through the typed commands ---------------

CORRECTIONS = "pages/manager_corrections.py"


def with_corrections_page(monkeypatch: Any) -> None:
    """Navigation with the Corrections page, whether or not app.webapp.PAGES lists it yet."""
    pages = list(webapp.PAGES["fund_manager"])
    if CORRECTIONS not in [spec.path for spec in pages]:
        pages.append(webapp.PageSpec(CORRECTIONS, "Corrections", ":material/undo:"))
    monkeypatch.setitem(webapp.PAGES, "fund_manager", pages)


def question(at: AppTest, key: str) -> str:
    """Click an irreversible action's button and return the question it asks, unanswered."""
    at.button(key=f"{key}-ask").click().run()
    assert not at.exception, at.exception
    assert [b for b in at.button if b.key == f"{key}-yes"], f"no question for {key}: {errors(at)}"
    return "\n".join(w.value for w in at.warning)


def confirm(at: AppTest, key: str) -> str:
    """Click an irreversible action's button, then answer its question yes; the question asked."""
    asked = question(at, key)
    at.button(key=f"{key}-yes").click().run()
    assert not at.exception, at.exception
    return asked


def infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


def table(at: AppTest, column: str) -> Any:
    """The first table on the page with this column (pages add tables; positions shift)."""
    found = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def done(uow_factory: Callable[[], Any], status: Any) -> None:
    """Process an operation in-process, as a worker would; it must post."""
    if operations.process(str(status.id), uow_factory) != "done":
        with uow_factory() as uow:
            failed = operations.operation_status(Actor.system(), uow, status.id)
        raise AssertionError(f"{status.kind}: {failed.error}")


def post(
    uow_factory: Callable[[], Any],
    on: Any,
    preview: Callable[..., Any],
    submit: Callable[..., Any],
    actor: Any,
    pool_id: int,
    request: dict[str, Any],
) -> Any:
    """Preview and submit a request on a given day through its typed command, then process it."""
    with clock.travel(on), uow_factory() as uow:
        status = submit(actor, uow, preview(actor, uow, pool_id, request).command)
    with clock.travel(on):
        done(uow_factory, status)
    return status


# Written here on purpose, apart from core.ledger: (journal kind, account, the side that adds).
_BY_HAND = {
    "commitment": ("commitment", "commitment", "C"),
    "called": ("capital_call", "receivable", "D"),
    "contributions": ("payment", "capital", "C"),
    "distributions": ("distribution", "capital", "D"),
    "management_fees": ("management_fee", "capital", "D"),
    "fund_expenses": ("fund_expense", "capital", "D"),
    "realized_gain": ("exit", "capital", "C"),
    "unrealized_gain": ("valuation", "capital", "C"),
    "carried_interest": ("carry", "capital", "D"),
}


def journal_figures(
    uow_factory: Callable[[], Any], pool_id: int, *, as_of: Any = None, investor_id: int | None = None
) -> dict[str, Any]:
    """A pool's (or one investor's) figures summed straight from the journal entries, independently
    of core.ledger: each capital-account line, NAV, and the pool's own accounts."""
    where = """e.pool_id = :pool AND (CAST(:on AS date) IS NULL OR j.effective_date <= CAST(:on AS date))
               AND (CAST(:investor AS bigint) IS NULL OR e.investor_id = :investor)"""
    params = {"pool": pool_id, "on": as_of, "investor": investor_id}
    with uow_factory() as uow:
        rows = uow.session.execute(
            text(
                f"""SELECT j.kind, e.account, e.investor_id IS NULL,
                           sum(CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END)
                      FROM entries e JOIN journals j ON j.id = e.journal_id
                     WHERE {where} GROUP BY j.kind, e.account, e.investor_id IS NULL"""
            ),
            params,
        ).all()
    debit: dict[tuple[str, str], Decimal] = {}
    books: dict[str, Decimal] = {}
    for kind, account, pool_level, amount in rows:
        debit[(kind, account)] = debit.get((kind, account), Decimal(0)) + amount
        if pool_level:
            books[account] = books.get(account, Decimal(0)) + amount
    out: dict[str, Any] = {
        line: (1 if side == "D" else -1) * debit.get((kind, account), Decimal(0))
        for line, (kind, account, side) in _BY_HAND.items()
    }
    capital = -sum((amount for (_, account), amount in debit.items() if account == "capital"), Decimal(0))
    receivable = sum(
        (amount for (_, account), amount in debit.items() if account == "receivable"), Decimal(0)
    )
    out |= {
        "nav": capital,
        "outstanding": receivable,
        "unfunded": out["commitment"] - out["called"],
        "cash": books.get("cash", Decimal(0)),
        "investments": books.get("investments", Decimal(0)),
        "unrealized": books.get("unrealized", Decimal(0)),
        "fees_payable": -books.get("fee_income", Decimal(0)),
    }
    out["portfolio_value"] = out["investments"] + out["unrealized"]
    return out


class Fund:
    """A closed pool of three investors (commitments 100,000, 200,000 and 300,000) opened `age`
    days ago, whose history tests write through the typed commands, each act on its own day."""

    def __init__(self, make: Any, *, age: int = 400, **terms: Any) -> None:
        self.make, self.uow = make, make.uow_factory
        self.start = clock.today() - timedelta(days=age)
        with clock.travel(self.start):
            self.pool_id, self.manager = make.pool(hard_cap="2000000", **terms)
            self.investors = [
                make.commitment(self.pool_id, amount=a, accept_as=self.manager)[1]
                for a in ("100000", "200000", "300000")
            ]
            with self.uow() as uow:
                pools.close_pool(self.manager, uow, self.pool_id)

    def day(self, n: int) -> Any:
        return self.start + timedelta(days=n)

    def act(
        self, on: Any, preview: Callable[..., Any], submit: Callable[..., Any], request: dict[str, Any]
    ) -> Any:
        return post(self.uow, on, preview, submit, self.manager, self.pool_id, request)

    def call(self, percent: str, on: Any, purpose: str = "Series A", **request: Any) -> None:
        self.act(on, calls.preview, calls.issue, {"percent": percent, "purpose": purpose, **request})

    def items(self, number: int) -> list[Any]:
        """The items of the pool's call `number`, by investor: rows with the columns a payment names."""
        with self.uow() as uow:
            return list(
                uow.session.execute(
                    select(
                        CallItem.id,
                        CallItem.investor_id,
                        CallItem.amount_due,
                        CallItem.amount_paid,
                        CallItem.status,
                        CallItem.version,
                    )
                    .join(CapitalCall, CapitalCall.id == CallItem.call_id)
                    .where(CapitalCall.pool_id == self.pool_id, CapitalCall.number == number)
                    .order_by(CallItem.investor_id)
                ).all()
            )

    def pay(self, item: Any, on: Any, amount: Any = None, reference: str | None = None) -> Any:
        return self.act(
            on,
            payments.preview,
            payments.record,
            {
                "call_item_id": item.id,
                "amount": str(amount if amount is not None else item.amount_due - item.amount_paid),
                "reference": reference or f"W-{item.id}-{on}",
                "paid_on": on.isoformat(),
                "item_version": item.version,
            },
        )

    def pay_call(self, number: int, on: Any) -> None:
        for item in self.items(number):
            self.pay(item, on)

    def company(self, name: str) -> int:
        with self.uow() as uow:
            return next(cid for cid, cname in investments.companies(uow, self.pool_id) if cname == name)

    def invest(self, on: Any, company: str, amount: str) -> Any:
        return self.act(
            on, investments.preview_investment, investments.invest, {"company": company, "amount": amount}
        )

    def mark(self, on: Any, company: str, value: str, note: str = "Mark") -> Any:
        request = {"company_id": self.company(company), "value": value, "note": note}
        return self.act(on, investments.preview_mark, investments.mark, request)

    def exit(self, on: Any, company: str, proceeds: str) -> Any:
        request = {"company_id": self.company(company), "proceeds": proceeds}
        return self.act(on, investments.preview_exit, investments.exit_holding, request)

    def fee(self, start: Any, end: Any, on: Any = None) -> Any:
        request = {"period_start": start.isoformat(), "period_end": end.isoformat()}
        return self.act(on or end, fees.preview, fees.charge, request)

    def distribute(self, on: Any, proceeds: str, memo: str = "Distribution") -> Any:
        return self.act(on, distributions.preview, approving.distribute, {"proceeds": proceeds, "memo": memo})

    def payments(self) -> list[tuple[int, Any, str, Any]]:
        """(investor, amount, reference, reversed_on) of every payment recorded in the pool."""
        with self.uow() as uow:
            return [
                tuple(row)
                for row in uow.session.execute(
                    select(Payment.investor_id, Payment.amount, Payment.reference, Payment.reversed_on)
                    .where(Payment.pool_id == self.pool_id)
                    .order_by(Payment.id)
                )
            ]
