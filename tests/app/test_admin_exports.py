"""The admin's Exports page: a small export downloads at once with every ledger row; a large one is built
by a background operation with a progress bar and then offered for download."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from core import operations
from core.services import exports, users

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


def test_a_small_export_downloads_at_once_with_every_ledger_row(make: Any, uow_factory: Any) -> None:
    pool_id, manager = make.pool()
    make.commitment(pool_id, accept_as=manager)  # at least one journal in the books
    at = build(exports_page(make), "transactions")
    assert not at.exception and not at.error, [e.value for e in at.error]
    with uow_factory() as uow:
        in_ledger = uow.session.execute(text("SELECT count(*) FROM entries")).scalar_one()
    name, data, rows = at.session_state["export_ready"]
    assert name.startswith("transactions_start_") and rows == in_ledger
    parsed = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(parsed) == in_ledger and parsed[0]["entry_id"]
    [download] = [d for d in at.get("download_button") if d.proto.label == "Download CSV"]
    assert download.proto.url  # the file is served by Streamlit's media manager
    assert any(f"{rows:,} rows" in s.value for s in at.success)


def test_a_large_export_builds_in_the_background(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import bootstrap

    monkeypatch.setattr(exports, "INLINE_LIMIT", 0)
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
    assert "done" in set(table["status"])
    offered = [d.proto.label for d in at.get("download_button")]
    assert any(label.startswith("commitments_start_") and "rows" in label for label in offered), offered
