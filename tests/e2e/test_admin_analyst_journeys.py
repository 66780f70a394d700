"""Admin and analyst journeys in Chromium against the running demo app (Streamlit + a worker)."""

from __future__ import annotations

import csv
from decimal import Decimal

import psycopg
import pytest

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_admin_exports_transactions_and_the_file_matches_the_ledger(page, app_url, app_env):  # noqa: ANN001
    """The file holds one row per movement of the ledger's read model, each the amount of its entry
    signed as it moves its line, at the currency's precision; its name says the range it holds."""
    log_in(page, app_url, "admin")
    page.get_by_role("link", name="Exports").click()
    page.get_by_role("heading", name="Exports", exact=True).wait_for()
    page.get_by_role("button", name="Build export").click()
    download_button = page.get_by_role("button", name="Download CSV")
    download_button.wait_for()
    with page.expect_download() as downloading:
        download_button.click()
    download = downloading.value
    assert download.suggested_filename.startswith("transactions_all_to_")
    with open(download.path(), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with psycopg.connect(app_env["DATABASE_URL"]) as conn:
        # By hand, apart from core.ledger: the entries that feed a line, with the side that adds.
        expected = dict(
            conn.execute(
                """SELECT e.id, CASE WHEN e.side = s.side THEN e.amount ELSE -e.amount END
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                     JOIN (VALUES ('commitment', 'C'), ('receivable', 'D'), ('cash', 'D'), ('investments', 'D'),
                                  ('unrealized', 'D'), ('fee_income', 'C')) s(account, side)
                       ON s.account = e.account
                    WHERE j.effective_date <= current_date
                      AND NOT (e.account = 'receivable' AND j.kind <> 'capital_call')
                      AND NOT (e.account = 'commitment' AND j.kind <> 'commitment')"""
            ).fetchall()
        )
        capital_sides = dict(
            conn.execute(
                """SELECT e.id, CASE WHEN j.kind IN ('payment', 'valuation', 'exit') = (e.side = 'C')
                                     THEN e.amount ELSE -e.amount END
                     FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE e.account = 'capital' AND j.effective_date <= current_date"""
            ).fetchall()
        )
    expected.update(capital_sides)
    assert len(rows) == len(expected) > 0
    assert {int(r["entry_id"]): Decimal(r["amount"]) for r in rows} == expected
    assert all(len(r["amount"].partition(".")[2]) == 2 for r in rows), "the currency's precision"
    assert {"Contributions", "Capital called", "Commitment"} <= {r["line"] for r in rows}


def test_analyst_opens_the_explorer_and_a_chart_is_drawn(page, app_url):  # noqa: ANN001
    log_in(page, app_url, "analyst")
    page.get_by_role("heading", name="Explorer", exact=True).wait_for()
    chart = page.locator(".js-plotly-plot svg.main-svg").first
    chart.wait_for(state="visible", timeout=60_000)
    assert chart.bounding_box()["width"] > 200
    assert (
        page.locator(".js-plotly-plot .scatterlayer .point, .js-plotly-plot .scatterlayer path").count() > 0
    )
    page.get_by_role("tab", name="Capital over time").click()
    page.get_by_text("Capital called and distributed per month").wait_for()
