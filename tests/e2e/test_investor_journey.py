"""The investor's journey in Chromium against the running app (Streamlit + a worker, demo data), clicked
as people click: commit to an open pool, then on Capital calls choose one call item (its amount is
prefilled), change the choice to another (its own amount replaces the first), read what will be
recorded, confirm with a double click, and look for the button again after "recorded". Afterwards the
ledger shows exactly one payment, on the item chosen, to the demo investor; the portfolio and the CSV
statement show the same paid-in."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.permissions import Actor
from core.services import calls
from core.uow import UnitOfWork
from db.models import CallItem, CapitalCall, Operation, Payment, Pool, User
from db.session import engine_for
from tests.e2e.conftest import choose, log_in, settled
from tests.workers import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """expect() waits as long as the page's own actions do; the default comes back afterwards."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def uow(database_url: str) -> UnitOfWork:
    return UnitOfWork(engine_for(database_url))


def money(text: str) -> Decimal:
    """ "$1,234.50" -> Decimal("1234.50")."""
    return Decimal(text.replace("$", "").replace(",", "").strip())


def usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def metric(page, label: str):  # noqa: ANN001, ANN201 - Playwright objects
    """The value of the metric with exactly this label (a locator: expect() waits on it)."""
    box = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return box.get_by_test_id("stMetricValue").first


def go(page, title: str) -> None:  # noqa: ANN001
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()


def second_open_call(database_url: str) -> int:
    """Climate Ventures II's manager calls 10% more (the demo investor owes 15,000 of it), posted by
    the app's worker: the demo investor then has two open call items. Its item id."""
    with uow(database_url) as unit:
        pool_id, manager_id = unit.session.execute(
            select(Pool.id, Pool.manager_id).where(Pool.name == "Climate Ventures II")
        ).one()
    manager = Actor(manager_id, "fund_manager", "manager2")
    with uow(database_url) as unit:
        command = calls.preview(
            manager, unit, pool_id, {"percent": "10", "purpose": "Helio Grid bridge"}
        ).command
        status = calls.issue(manager, unit, command)

    def posted() -> bool:  # by the app's worker (its sweeper, whatever queue this process used)
        with uow(database_url) as unit:
            return unit.session.get(Operation, status.id).status == "done"

    wait_until(posted, 90, what="the capital call to post")
    return item_of(database_url, "Climate Ventures II", "Helio Grid bridge")


def item_of(database_url: str, pool_name: str, purpose: str) -> int:
    with uow(database_url) as unit:
        return unit.session.execute(
            select(CallItem.id)
            .join(CapitalCall, CapitalCall.id == CallItem.call_id)
            .join(Pool, Pool.id == CapitalCall.pool_id)
            .join(User, User.id == CallItem.investor_id)
            .where(Pool.name == pool_name, CapitalCall.purpose == purpose, User.username == "investor")
        ).scalar_one()


def payments_on(database_url: str, *item_ids: int) -> list[tuple[int, str, Decimal, str]]:
    """Every payment recorded on these call items: (item, investor, amount, reference)."""
    with uow(database_url) as unit:
        return [
            tuple(row)
            for row in unit.session.execute(
                select(Payment.call_item_id, User.username, Payment.amount, Payment.reference)
                .join(User, User.id == Payment.investor_id)
                .where(Payment.call_item_id.in_(item_ids))
                .order_by(Payment.id)
            )
        ]


def test_investor_commits_changes_the_item_pays_once_and_downloads_a_statement(  # noqa: ANN001
    page, app_url: str, app_env: dict[str, str], tmp_path: Path
) -> None:
    database_url = app_env["DATABASE_URL"]
    climate_item = second_open_call(database_url)
    growth_item = item_of(database_url, "Growth SPV 2024", "Beacon Health follow-on")
    page.set_default_timeout(90_000)  # a loaded CI machine: the first run imports the chart libraries
    log_in(page, app_url, "investor")
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    paid_before = money(metric(page, "Paid-in").inner_text())
    expect(metric(page, "IRR")).to_have_text(re.compile(r"^-?[0-9.]+%$"))  # computable here: not "n/a"

    # Commit to an open pool; the commitment waits for the manager.
    go(page, "Open pools")
    choose(page, "Pool", "Seed Fund I")
    page.get_by_role("textbox", name="Amount (USD)").fill("60000")
    page.get_by_role("button", name="Commit").click()
    page.get_by_text("Commitment of $60,000.00 to Seed Fund I submitted").wait_for()
    page.get_by_text("Seed Fund I: $60,000.00").wait_for()  # listed as pending

    # Capital calls: choose the Climate item (its 15,000 prefilled), then change to Growth's call 3.
    go(page, "Capital calls")
    outstanding = money(metric(page, "Outstanding (USD)").inner_text())
    assert outstanding >= Decimal("65000.00")  # 50,000 on Growth SPV 2024 and 15,000 on Climate
    choose(
        page, "Call item to pay", re.compile(r"^Climate Ventures II · Capital call 2 \(Helio Grid bridge\)")
    )
    amount = page.get_by_role("textbox", name="Amount (USD)")
    expect(amount).to_have_value("15000.00")
    choose(
        page, "Call item to pay", re.compile(r"^Growth SPV 2024 · Capital call 3 \(Beacon Health follow-on\)")
    )
    expect(amount).to_have_value("50000.00")  # the new item's own amount, not the previous one's
    page.get_by_role("textbox", name="Wire reference").fill("WIRE-E2E-0001")
    page.get_by_role("textbox", name="Wire reference").press("Tab")
    page.get_by_role("button", name="Record the payment").click()
    page.get_by_text(
        "Record $50,000.00 paid by wire WIRE-E2E-0001 on Capital call 3 (Beacon Health follow-on) of "
        "Growth SPV 2024"
    ).wait_for()
    assert payments_on(database_url, growth_item, climate_item) == [], "asking records nothing"
    page.get_by_role("button", name="Yes, record it").dblclick()  # a double click: one payment
    page.get_by_text("recorded: your paid-in capital is updated everywhere").wait_for(timeout=90_000)
    expect(metric(page, "Outstanding (USD)")).to_have_text(usd(outstanding - Decimal("50000.00")))

    # After success the form is empty: the submit button does nothing, however often clicked.
    record = page.get_by_role("button", name="Record the payment")
    settled(page)
    expect(amount).to_have_value("")
    expect(record).to_be_disabled()
    record.click(force=True, timeout=5_000)
    expect(page.get_by_role("button", name="Yes, record it")).to_have_count(0)
    wait_until(lambda: len(payments_on(database_url, growth_item, climate_item)) >= 1, 30, what="the payment")
    assert payments_on(database_url, growth_item, climate_item) == [
        (growth_item, "investor", Decimal("50000.0000"), "WIRE-E2E-0001")
    ]

    # The portfolio shows the payment in paid-in.
    go(page, "Portfolio")
    paid_after = paid_before + Decimal("50000.00")
    expect(metric(page, "Paid-in")).to_have_text(usd(paid_after))

    # The statement file holds the same figure as the screen.
    go(page, "Statements")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Capital account statement (CSV)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.startswith("capital-account_inception_to_")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    contributions = sum(Decimal(r["Amount"]) for r in rows if r["Line"] == "Contributions")
    assert contributions == paid_after
    growth = {r["Line"]: Decimal(r["Amount"]) for r in rows if r["Pool"] == "Growth SPV 2024"}
    assert growth["Contributions"] == Decimal("400000.00")  # the three calls of Growth SPV 2024
    assert growth["Unfunded commitment, ending"] == Decimal("100000.00")  # 500,000 - 400,000 called
    # The payment stays exactly one, on the right item, whatever was clicked.
    assert payments_on(database_url, growth_item, climate_item) == [
        (growth_item, "investor", Decimal("50000.0000"), "WIRE-E2E-0001")
    ]
