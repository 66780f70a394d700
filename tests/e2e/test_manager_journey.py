"""The fund manager's journey in Chromium: create and open a pool, see the demo investor's
commitment arrive on the live My pools page, accept it, close the pool, issue a capital call, watch
its progress bar finish, download the call notice and record a payment from a bank statement."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select

from core.permissions import Actor
from core.services import commitments
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Pool, User
from db.session import engine_for
from tests.e2e.conftest import DEMO_PASSWORDS

pytestmark = pytest.mark.e2e


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


def investor_commits(database_url: str, pool_name: str, amount: str) -> None:
    """The demo investor commits to the new pool through the investor's own service."""
    engine = engine_for(database_url)
    with UnitOfWork(engine) as uow:
        investor_id = uow.session.execute(select(User.id).where(User.username == "investor")).scalar_one()
        pool_id = uow.session.execute(select(Pool.id).where(Pool.name == pool_name)).scalar_one()
        commitments.submit_commitment(Actor(investor_id, "investor", "investor"), uow, pool_id, amount)


def posted_call(database_url: str, pool_name: str) -> tuple[str, Decimal, list[Decimal]]:
    with UnitOfWork(engine_for(database_url)) as uow:
        call_id, status, amount = uow.session.execute(
            select(CapitalCall.id, CapitalCall.status, CapitalCall.amount)
            .join(Pool, Pool.id == CapitalCall.pool_id)
            .where(Pool.name == pool_name)
        ).one()
        dues = list(
            uow.session.execute(select(CallItem.amount_due).where(CallItem.call_id == call_id)).scalars()
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
    page.get_by_text("The pool is open for commitments.").wait_for()

    # My pools is live: the investor commits while it is on screen, and the pending figure moves
    # with no click and no reload (the st.fragment polls the pools' versions).
    page.get_by_role("link", name="My pools").click()
    page.get_by_role("heading", name="My pools").wait_for()
    newest = page.locator('[data-testid="stProgress"]').first  # newest pool first: this one
    page.get_by_role("heading", name=name).wait_for()
    expect(newest).to_contain_text("pending 0.00 USD")
    investor_commits(app_env["DATABASE_URL"], name, "250000")
    expect(newest).to_contain_text("pending 250,000.00 USD", timeout=30_000)

    page.get_by_role("link", name="Commitments").click()
    page.get_by_role("heading", name="Commitments").wait_for()
    page.get_by_text("Ivy Investor").wait_for()
    page.get_by_role("button", name="Accept", exact=True).click()
    page.get_by_text("Accepted 250,000.00 USD from Ivy Investor").wait_for()
    page.get_by_role("button", name="Close the pool to new commitments").click()
    page.get_by_text("The pool is closed").wait_for()

    page.get_by_role("link", name="Capital calls").click()
    page.get_by_role("heading", name="Capital calls").wait_for()
    page.get_by_role("textbox", name="Percent or amount").fill("20")
    page.get_by_role("textbox", name="Purpose").fill("First close: Acme seed round")
    page.get_by_role("button", name="Preview the call").click()
    page.get_by_text(re.compile(r"50,000\.00 USD")).first.wait_for()
    page.get_by_role("button", name="Issue this call").click()
    progress = page.locator('[data-testid="stProgress"]')
    progress.first.wait_for()  # the bar is drawn as soon as the call is submitted...
    page.get_by_text("The capital call is posted to every investor.").wait_for()
    progress.first.wait_for(state="detached")  # ...and gone once the page has rerun with it posted

    status, amount, dues = posted_call(app_env["DATABASE_URL"], name)
    assert status == "issued" and amount == Decimal("50000") and dues == [Decimal("50000")]

    # The call notice, downloaded as a person would: one row, the demo investor's, as posted.
    page.get_by_text("Calls and payments", exact=True).click()
    notice = page.get_by_role("button", name="Download the call notice")
    with page.expect_download() as download:
        notice.click()
    assert download.value.suggested_filename.endswith("-notice.csv")
    [row] = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert (row["pool"], row["investor_name"], row["purpose"]) == (
        name,
        "Ivy Investor",
        "First close: Acme seed round",
    )
    assert [Decimal(row[k]) for k in ("commitment", "amount_due", "amount_paid", "outstanding")] == [
        Decimal("250000"),
        dues[0],
        Decimal(0),
        dues[0],
    ]

    # The investor's wire arrives on the bank statement: the manager records it from the file.
    statement = Path(download.value.path()).with_name("statement.csv")
    statement.write_text(
        f"email,amount,reference,received_on\n{row['email']},20000.00,WIRE-E2E-1,{date.today()}\n",
        encoding="utf-8",
    )
    page.get_by_text("Record payments from a bank statement (CSV)").click()
    page.locator('input[type="file"]').set_input_files(str(statement))
    page.get_by_role("button", name="Record 1 payments (20,000.00 USD)").click()
    page.get_by_text("Every payment of the statement is posted.").wait_for()
    with UnitOfWork(engine_for(app_env["DATABASE_URL"])) as uow:
        paid = uow.session.execute(
            select(CallItem.amount_paid)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .join(Pool, Pool.id == CapitalCall.pool_id)
            .where(Pool.name == name)
        ).scalar_one()
    assert paid == Decimal("20000.00")
