"""The investor's journey in Chromium against the running app (Streamlit + a worker, demo data):
commit to an open pool, see the pending commitment, pay the open capital call, watch paid-in rise
on the portfolio page, download the CSV statement and find the same figure in it."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """expect() waits as long as the page's own actions do; the default comes back afterwards."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def money(text: str) -> Decimal:
    """ "$1,234.50" -> Decimal("1234.50")."""
    return Decimal(text.replace("$", "").replace(",", "").strip())


def metric(page, label: str):  # noqa: ANN001, ANN201 - Playwright objects
    """The value of the metric with exactly this label (a locator: expect() waits on it)."""
    box = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return box.get_by_test_id("stMetricValue").first


def usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def go(page, title: str) -> None:  # noqa: ANN001
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title, level=1).wait_for()


def test_investor_commits_pays_and_downloads_a_statement(page, app_url: str, tmp_path: Path) -> None:  # noqa: ANN001
    page.set_default_timeout(90_000)  # a loaded CI machine: the first run imports the chart libraries
    log_in(page, app_url, "investor")
    page.get_by_role("heading", name="Portfolio", level=1).wait_for()
    paid_before = money(metric(page, "Paid-in").inner_text())
    expect(metric(page, "IRR")).to_have_text(re.compile(r"^-?[0-9.]+%$"))  # computable here: not "n/a"

    # Commit to an open pool; the commitment waits for the manager.
    go(page, "Open pools")
    page.get_by_test_id("stSelectbox").filter(has_text="Pool").click()
    page.get_by_role("option", name="Seed Fund I").click()
    page.get_by_label("Amount (USD)").fill("60000")
    page.get_by_role("button", name="Commit").click()
    page.get_by_text("Commitment of $60,000.00 to Seed Fund I submitted").wait_for()
    page.get_by_text("Seed Fund I: $60,000.00 requested").wait_for()

    # Pay the open capital call: a durable payment operation, posted by the worker.
    go(page, "Capital calls")
    expect(metric(page, "Outstanding (USD)")).to_have_text("$150,000.00")
    expect(page.get_by_label("Amount (USD)")).to_have_value("150000.00", timeout=60_000)  # the item, in full
    page.get_by_label("Bank reference").fill("WIRE-E2E-0001")
    page.get_by_role("button", name="Record payment").click()
    page.get_by_text("Payment posted").wait_for(timeout=90_000)
    expect(metric(page, "Outstanding (USD)")).to_have_text("$0.00")

    # The portfolio shows the payment in paid-in.
    go(page, "Portfolio")
    paid_after = paid_before + Decimal("150000.00")
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
    assert growth["Contributions"] == Decimal("350000.00")  # both calls of the demo's Growth SPV 2024
    assert growth["Ending unfunded commitment"] == Decimal("150000.00")
