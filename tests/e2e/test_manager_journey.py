"""The fund manager's journeys in Chromium against the running app (Streamlit + a worker, demo data).

1. Raise a pool and call capital: create and open a pool (confirming what opening means), see the
   demo investor's commitment arrive on the live My pools page, accept it, close the pool, issue a
   capital call (confirmed), watch its progress bar finish, download the call notice and record a
   payment from a bank statement.
2. Record a payment as fund staff click: choose an investor (their amount is prefilled), change
   the choice (the other's amount replaces it), double-click the confirmation, click the record
   button again after "Payment recorded.", and keep a second tab open on the same item. Afterwards
   the ledger shows the payment once, on the right investor.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import secrets
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select, text

from core.permissions import Actor
from core.services import calls, commitments, pools
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Operation, Payment, Pool, User
from db.session import engine_for
from tests.conftest import Factory
from tests.e2e.conftest import DEMO_PASSWORDS, choose
from tests.workers import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """expect() waits as long as the page's own actions do; the default comes back afterwards."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def sign_in(page, app_url: str, username: str) -> None:  # noqa: ANN001
    """The login form as a person uses it; a click that lands while the app's first run (or the
    cookie component's rerun) is still going can be lost on a loaded machine, so click again."""
    page.goto(app_url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(DEMO_PASSWORDS[username])
    signed_in = page.get_by_text(f"Signed in as {username}")
    for _ in range(6):
        login = page.get_by_role("button", name="Login")
        if login.count():
            login.click()
        try:
            signed_in.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    signed_in.wait_for()


def go(page, title: str) -> None:  # noqa: ANN001
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()


def confirm(page, button: str, yes: str) -> None:  # noqa: ANN001
    page.get_by_role("button", name=button, exact=True).click()
    page.get_by_role("button", name=yes).click()


def uow(database_url: str) -> UnitOfWork:
    return UnitOfWork(engine_for(database_url))


def user_id(database_url: str, username: str) -> int:
    with uow(database_url) as unit:
        return unit.session.execute(select(User.id).where(User.username == username)).scalar_one()


def investor_commits(database_url: str, pool_name: str, amount: str) -> None:
    """The demo investor commits to the new pool through the investor's own service."""
    investor = user_id(database_url, "investor")
    with uow(database_url) as unit:
        pool_id = unit.session.execute(select(Pool.id).where(Pool.name == pool_name)).scalar_one()
        commitments.submit_commitment(Actor(investor, "investor", "investor"), unit, pool_id, amount)


def posted_call(database_url: str, pool_name: str) -> tuple[str, Decimal, list[Decimal]]:
    with uow(database_url) as unit:
        call_id, status, amount = unit.session.execute(
            select(CapitalCall.id, CapitalCall.status, CapitalCall.amount)
            .join(Pool, Pool.id == CapitalCall.pool_id)
            .where(Pool.name == pool_name)
        ).one()
        dues = list(
            unit.session.execute(select(CallItem.amount_due).where(CallItem.call_id == call_id)).scalars()
        )
    return status, amount, dues


def test_manager_raises_a_pool_and_calls_capital(page, app_url, app_env):  # noqa: ANN001
    name = f"Journey Fund {secrets.token_hex(3)}"
    page.set_default_timeout(90_000)  # a loaded CI machine: every step waits for a Streamlit rerun
    sign_in(page, app_url, "manager")
    page.get_by_role("heading", name="My pools").wait_for()
    page.get_by_role("button", name="Create a pool").click()
    page.get_by_role("heading", name="Create a pool").wait_for()
    for label, value in (
        ("Name", name),
        ("Target size", "1000000"),
        ("Hard cap", "1500000"),
        ("Minimum ticket", "10000"),
        ("Maximum ticket", "500000"),
    ):
        page.get_by_role("textbox", name=label).fill(value)
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("Draft saved").wait_for()
    page.get_by_role("heading", name=f"Edit {name}").wait_for()
    page.get_by_role("button", name="Open for commitments").click()
    page.get_by_text(f"Open {name} for commitments?").wait_for()  # asked first, with what it means
    page.get_by_role("button", name="Yes, open it").click()
    page.get_by_text(f"{name} is open for commitments.").wait_for()

    # My pools is live: the investor commits while it is on screen, and the pending figure moves
    # with no click and no reload (the st.fragment polls the pools' versions).
    go(page, "My pools")
    newest = page.locator('[data-testid="stProgress"]').first  # newest pool first: this one
    page.get_by_role("heading", name=name).wait_for()
    expect(newest).to_contain_text("pending $0.00")
    investor_commits(app_env["DATABASE_URL"], name, "250000")
    expect(newest).to_contain_text("pending $250,000.00", timeout=30_000)

    go(page, "Commitments")
    page.get_by_text("Ivy Investor").wait_for()
    confirm(page, "Accept", "Yes, accept it")
    page.get_by_text("Accepted $250,000.00 from Ivy Investor.").wait_for()
    page.get_by_role("button", name="Close the pool").click()
    page.get_by_text(f"Close {name} with $250,000.00 committed by 1 investor").wait_for()
    page.get_by_role("button", name="Yes, close it").click()
    page.get_by_text(f"{name} is closed").wait_for()

    go(page, "Capital calls")
    page.get_by_role("textbox", name="Percentage of commitments").fill("20")
    page.get_by_role("textbox", name="Purpose").fill("First close: Acme seed round")
    page.get_by_role("button", name="Preview the call").click()
    page.get_by_text(re.compile(r"\$50,000\.00 from 1 investor")).first.wait_for()
    confirm(page, "Issue this call", "Yes, issue the call")
    page.get_by_text("Capital call 1 (First close: Acme seed round) is issued").wait_for()
    # A progress bar shows while the worker posts (unless it posts before the page's first look), and
    # none is left once the page has rerun with the call posted.
    expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)

    status, amount, dues = posted_call(app_env["DATABASE_URL"], name)
    assert status == "issued" and amount == Decimal("50000") and dues == [Decimal("50000")]

    # The call notice, downloaded as a person would: one row, the demo investor's, as posted.
    page.get_by_text("Calls and payments", exact=True).click()
    notice = page.get_by_role("button", name="Download the call notice")
    with page.expect_download() as download:
        notice.click()
    assert download.value.suggested_filename == "capital-call-1-notice.csv"
    [row] = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert (row["pool"], row["investor_name"], row["purpose"], row["call"]) == (
        name,
        "Ivy Investor",
        "First close: Acme seed round",
        "1",
    )
    assert [row[k] for k in ("commitment", "amount_due", "amount_paid", "outstanding")] == [
        "250000.00",
        "50000.00",
        "0.00",
        "50000.00",
    ]

    # The investor's wire arrives on the bank statement: the manager records it from the file.
    statement = Path(download.value.path()).with_name("statement.csv")
    statement.write_text(
        f"email,amount,reference,received_on\n{row['email']},20000.00,WIRE-E2E-1,{date.today()}\n",
        encoding="utf-8",
    )
    page.get_by_text("Record payments from a bank statement (CSV)").click()
    page.locator('input[type="file"]').set_input_files(str(statement))
    confirm(page, "Record 1 payment ($20,000.00)", "Yes, record them")
    page.get_by_text("Every payment of the statement is posted").wait_for()
    with uow(app_env["DATABASE_URL"]) as unit:
        paid = unit.session.execute(
            select(CallItem.amount_paid)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .join(Pool, Pool.id == CapitalCall.pool_id)
            .where(Pool.name == name)
        ).scalar_one()
    assert paid == Decimal("20000.00")


# --- a payment, clicked as fund staff click ---------------------------------------------------------


def called_pool(database_url: str) -> tuple[int, str]:
    """A pool of the demo manager's with two demo investors (Ian 200,000, Iris 300,000), closed, and
    a 10% capital call issued (posted by the app's worker): Ian owes 20,000, Iris 30,000."""
    name = f"Payments Fund {secrets.token_hex(3)}"
    manager = Actor(user_id(database_url, "manager"), "fund_manager", "manager")
    with uow(database_url) as unit:
        pool_id = pools.create_pool(
            manager, unit, Factory.terms(name=name, hard_cap="2000000", max_ticket="500000")
        )
    with uow(database_url) as unit:
        pools.open_pool(manager, unit, pool_id)
    for username, amount in (("investor2", "200000"), ("investor3", "300000")):
        investor = Actor(user_id(database_url, username), "investor", username)
        with uow(database_url) as unit:
            commitment = commitments.submit_commitment(investor, unit, pool_id, amount)
        with uow(database_url) as unit:
            commitments.accept_commitment(manager, unit, commitment)
    with uow(database_url) as unit:
        pools.close_pool(manager, unit, pool_id)
    with uow(database_url) as unit:
        command = calls.preview(manager, unit, pool_id, {"percent": "10", "purpose": "Follow-on"}).command
        status = calls.issue(manager, unit, command)

    def posted() -> bool:  # by the app's worker (its sweeper, whatever queue this process used)
        with uow(database_url) as unit:
            return unit.session.get(Operation, status.id).status == "done"

    wait_until(posted, 90, what="the capital call to post")
    return pool_id, name


def payments_of(database_url: str, pool_id: int) -> list[tuple[str, Decimal, str]]:
    with uow(database_url) as unit:
        return [
            tuple(row)
            for row in unit.session.execute(
                select(User.username, Payment.amount, Payment.reference)
                .join(User, User.id == Payment.investor_id)
                .where(Payment.pool_id == pool_id, Payment.reversed_on.is_(None))
                .order_by(Payment.id)
            )
        ]


def contributions(database_url: str, pool_id: int) -> dict[str, Decimal]:
    """Each investor's contributions summed straight from the journal entries."""
    with uow(database_url) as unit:
        return dict(
            unit.session.execute(
                text(
                    """SELECT u.username, sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                         FROM entries e JOIN journals j ON j.id = e.journal_id JOIN users u ON u.id = e.investor_id
                        WHERE e.pool_id = :pool AND j.kind = 'payment' AND e.account = 'capital'
                        GROUP BY u.username"""
                ),
                {"pool": pool_id},
            ).all()
        )


def open_calls_page(page: Any, app_url: str, pool_name: str) -> None:
    sign_in(page, app_url, "manager")
    go(page, "Capital calls")
    choose(page, "Pool", f"{pool_name} (closed)")
    page.get_by_text("Calls and payments", exact=True).click()
    page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Investor", exact=True)).wait_for()


@contextlib.contextmanager
def second_tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(90_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_payment_lands_once_on_the_investor_chosen(page, browser, app_url, app_env):  # noqa: ANN001
    database_url = app_env["DATABASE_URL"]
    pool_id, name = called_pool(database_url)
    page.set_default_timeout(90_000)
    open_calls_page(page, app_url, name)
    amount = page.get_by_role("textbox", name="Amount received (USD)")
    with second_tab(browser) as other:
        open_calls_page(other, app_url, name)
        choose(other, "Investor", "Iris Third: $30,000.00 due")
        expect(other.get_by_role("textbox", name="Amount received (USD)")).to_have_value("30000.00")

        # Nothing is chosen at first; choosing prefills, a changed choice prefills anew.
        expect(page.get_by_role("button", name="Record the payment", exact=True)).to_be_disabled()
        choose(page, "Investor", "Ian Second: $20,000.00 due")
        expect(amount).to_have_value("20000.00")
        choose(page, "Investor", "Iris Third: $30,000.00 due")
        expect(amount).to_have_value("30000.00")
        page.get_by_role("textbox", name="Wire reference").fill("WIRE-E2E-IRIS")
        page.get_by_role("button", name="Record the payment", exact=True).click()
        page.get_by_text("Record $30,000.00 from Iris Third against Capital call 1 (Follow-on)").wait_for()
        page.get_by_role("button", name="Yes, record the payment").dblclick()  # a double click
        page.get_by_text("Payment recorded: $30,000.00 from Iris Third").wait_for()

        # After success the form is empty: the record button does nothing, however often clicked.
        record = page.get_by_role("button", name="Record the payment", exact=True)
        expect(amount).to_have_value("")
        expect(record).to_be_disabled()
        record.click(force=True, timeout=5_000)
        expect(page.get_by_role("button", name="Yes, record the payment")).to_have_count(0)

        # The second tab, still on Iris's item, finds it paid: nothing is recorded there.
        other.get_by_role("button", name="Record the payment", exact=True).click()
        other.get_by_text("has nothing outstanding on this call any more").wait_for()
        expect(other.get_by_role("button", name="Yes, record the payment")).to_have_count(0)
        expect(other.get_by_role("textbox", name="Amount received (USD)")).to_have_value("")

    assert payments_of(database_url, pool_id) == [("investor3", Decimal("30000"), "WIRE-E2E-IRIS")]
    assert contributions(database_url, pool_id) == {"investor3": Decimal("30000")}
