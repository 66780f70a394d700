"""Admin and analyst journeys in Chromium against the running demo app (Streamlit + a worker)."""

from __future__ import annotations

import csv
from decimal import Decimal

import psycopg
import pytest

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.e2e


def test_admin_exports_transactions_and_the_file_matches_the_ledger(page, app_url, app_env):  # noqa: ANN001
    log_in(page, app_url, "admin")
    page.get_by_role("link", name="Exports").click()
    page.get_by_role("heading", name="Exports", exact=True).wait_for()
    page.get_by_role("button", name="Build export").click()
    download_button = page.get_by_role("button", name="Download CSV")
    download_button.wait_for()
    with page.expect_download() as downloading:
        download_button.click()
    download = downloading.value
    assert download.suggested_filename.startswith("transactions_start_")
    with open(download.path(), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with psycopg.connect(app_env["DATABASE_URL"]) as conn:
        entries = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
        amounts = dict(conn.execute("SELECT id, amount FROM entries").fetchall())
    assert entries > 0 and len(rows) == entries
    assert {int(r["entry_id"]): r["debit"] or r["credit"] for r in rows}.keys() == amounts.keys()
    assert all(amounts[int(r["entry_id"])] == Decimal(r["debit"] or r["credit"]) for r in rows)


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
