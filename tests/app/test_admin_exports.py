"""The admin's Exports page: a small export downloads at once with every ledger row; a large one is built
by a background operation with a progress bar and then offered for download."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core import clock, operations
from core.formatting import count
from core.money import MINOR_UNITS
from core.services import exports, users
from tests.platform_seed import unreadable

ROOT = Path(__file__).parents[2]
HOME = ROOT / "Home.py"
PASSWORD = "correct-horse-battery"
TIMEOUT = 60


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def exports_page(make: Any) -> AppTest:
    admin = make.user("admin")
    at = AppTest.from_file(str(HOME), default_timeout=TIMEOUT).run()
    at.text_input[0].input(admin.username)
    at.text_input[1].input(PASSWORD)
    at = at.button[0].click().run()
    at.switch_page("pages/admin_exports.py").run()
    assert [t.value for t in at.title] == ["Exports"] and not at.exception
    return at


def build(at: AppTest, report: str) -> AppTest:
    at.selectbox[0].select(exports.REPORTS[report].title)
    [submit] = [b for b in at.button if b.label == "Build export"]
    return submit.click().run()


def test_a_small_export_downloads_at_once_with_every_ledger_movement(make: Any, uow_factory: Any) -> None:
    pool_id, manager = make.pool()
    make.commitment(pool_id, accept_as=manager)  # at least one journal in the books
    at = exports_page(make)
    today = clock.today()
    assert [d.label for d in at.date_input] == ["Up to and including"], "from the beginning: no start date"
    assert any(f"named transactions_all_to_{today}.csv" in c.value for c in at.caption)
    at = build(at, "transactions")
    assert not at.exception and not at.error, [e.value for e in at.error]
    with uow_factory() as uow:
        movements = uow.session.execute(
            text(
                """SELECT count(*) FROM entries e JOIN journals j ON j.id = e.journal_id
                    WHERE j.effective_date <= current_date
                      AND NOT (e.account IN ('commitment_memo', 'call_clearing')
                               OR (e.account = 'receivable' AND j.kind = 'payment'))"""
            )
        ).scalar_one()
    name, data, rows = at.session_state["export_ready"]
    assert name == f"transactions_all_to_{today}.csv" and rows == movements > 0
    parsed = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(parsed) == movements and parsed[0]["entry_id"] and parsed[0]["line"]
    assert all(len(r["amount"].partition(".")[2]) == MINOR_UNITS[r["currency"]] for r in parsed), (
        "amounts at the currency's precision"
    )
    [download] = [d for d in at.get("download_button") if d.proto.label == "Download CSV"]
    assert download.proto.url  # the file is served by Streamlit's media manager
    assert [s.value for s in at.success] == [f"{name}: {count(rows, 'row')}."]
    assert unreadable(at) == []


def test_a_range_names_its_file_by_its_dates(make: Any) -> None:
    at = exports_page(make)
    at.checkbox(key="export-whole").uncheck().run()
    [period] = at.date_input
    assert period.label == "Date range", "unticking 'From the beginning' brings the start date back"
    today = clock.today()
    start = today - timedelta(days=10)
    period.set_value((start, today)).run()
    assert any(
        f"named commitments_{start}_to_{today}.csv" in c.value
        for c in at.selectbox[0].select(exports.REPORTS["commitments"].title).run().caption
    )
    at = build(at, "commitments")
    assert not at.error, [e.value for e in at.error]
    name, _, _ = at.session_state["export_ready"]
    assert name == f"commitments_{start}_to_{today}.csv"


def test_a_large_export_builds_in_the_background(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import bootstrap

    monkeypatch.setattr(exports, "INLINE_LIMIT", 0)
    pool_id, _ = make.pool()
    make.commitment(pool_id, amount="100000")  # a row to export, whatever ran before in this database
    at = build(exports_page(make), "commitments")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("building in the background" in i.value for i in at.info)
    operation_id = at.session_state["_following"]["export"]
    assert at.get("progress"), "a progress bar follows the operation"

    assert operations.process(operation_id, bootstrap.unit_of_work) == "done"  # what the worker does
    at.run()  # the progress fragment sees "done" and reruns the page once, which says so
    assert not at.exception
    assert any("Export ready" in s.value for s in at.success), [s.value for s in at.success]
    assert "export" not in at.session_state["_following"]
    table = at.dataframe[0].value
    assert "done" in set(table["Status"])
    offered = [d.proto.label for d in at.get("download_button")]
    assert any(
        label.startswith(f"commitments_all_to_{clock.today()}.csv")
        and " row" in label
        and label.endswith(("kB)", "MB)"))
        for label in offered
    ), offered
    assert unreadable(at) == []
