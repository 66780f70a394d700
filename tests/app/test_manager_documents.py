"""The manager's Documents page (AppTest from Home.py, real services and database): an upload is
refused by what the file really is and by its size before anything is asked, a good one is asked
first, stored, listed, and replaced by a next version only with a note; a quarter's statements are
issued once, asked first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import bcrypt
import pytest
from sqlalchemy import func, select

from core import bootstrap, clock
from core.services import documents, notices, users
from db.models import Document, Notice
from tests.app.manager_support import Fund, errors, goto, logged_in, question, successes
from tests.platform_seed import unreadable

DOCUMENTS = "pages/manager_documents.py"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode()
    )


def stored(pool_id: int) -> list[tuple[str, int, str]]:
    """The pool's uploaded documents: (title, version, note)."""
    with bootstrap.unit_of_work() as uow:
        return [
            tuple(row)  # type: ignore[misc]
            for row in uow.session.execute(
                select(Document.title, Document.version, Document.note)
                .where(
                    Document.pool_id == pool_id, Document.kind.in_([k.value for k in documents.UPLOAD_KINDS])
                )
                .order_by(Document.id)
            )
        ]


def latest(pool_id: int) -> int:
    with bootstrap.unit_of_work() as uow:
        return uow.session.execute(
            select(func.max(Document.id)).where(Document.pool_id == pool_id)
        ).scalar_one()


def view(at: Any, name: str) -> Any:
    at = at.radio(key="documents-view").set_value(name).run()
    assert not at.exception, at.exception
    return at


def field(at: Any, label: str) -> Any:
    [found] = [t for t in at.text_input if t.label == label]
    return found


def choose_file(at: Any, name: str, data: bytes, mime: str = "application/pdf") -> Any:
    at.get("file_uploader")[0].set_value((name, data, mime))
    at = at.run()
    assert not at.exception, at.exception
    return at


def upload_button(at: Any) -> Any:
    [button] = [b for b in at.button if b.key == "upload-ask"]
    return button


def test_uploads_are_refused_by_type_and_size_and_a_good_one_is_asked_first(make: Any) -> None:
    fund = Fund(make, age=40)
    at = view(
        goto(logged_in(fund.manager.username), DOCUMENTS, manager_pool_id=fund.pool_id), "Upload a document"
    )
    field(at, "Title").input("Subscription agreement")
    at.run()
    assert upload_button(at).disabled  # nothing to upload yet

    # Named .pdf, but its bytes say otherwise: refused before anything is asked; nothing stored.
    at = choose_file(at, "agreement.pdf", b"<html><script>alert(1)</script></html>")
    assert any(e.startswith("File must be a PDF, PNG or JPEG file") for e in errors(at)), errors(at)
    assert upload_button(at).disabled
    # Larger than the vault takes: refused by its size.
    at = choose_file(at, "big.pdf", b"%PDF-" + b"0" * documents.MAX_UPLOAD_BYTES)
    assert any(e == "File is larger than 20 MB" for e in errors(at)), errors(at)
    assert upload_button(at).disabled
    assert stored(fund.pool_id) == []

    at = choose_file(at, "../../etc/agreement.PDF", PDF)
    assert not errors(at), errors(at)
    asked = question(at, "upload")
    assert "Put “Subscription agreement” (pool agreement, agreement.pdf" in asked
    assert "for all its investors" in asked and "cannot be changed or removed" in asked
    assert stored(fund.pool_id) == []  # asked, not yet done
    at = at.button(key="upload-yes").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert any("is in the vault as version 1, for all its investors" in s for s in successes(at))
    assert stored(fund.pool_id) == [("Subscription agreement", 1, "")]
    # The form starts empty again.
    assert field(at, "Title").value == "" and not at.get("file_uploader")[0].value

    # A next version needs a note saying what changed.
    with bootstrap.unit_of_work() as uow:
        [first] = [d for d in documents.visible(fund.manager, uow, pool_id=fund.pool_id) if d.version == 1]
    field(at, "Title").input("Subscription agreement (signed)")
    at.run()
    at = at.selectbox(key=[s.key for s in at.selectbox if s.label == "Replaces"][0]).select(first.id).run()
    at = choose_file(at, "signed.pdf", PDF + b"% signed\n")
    assert any(e == "Note is required" for e in errors(at)), errors(at)
    field(at, "Note").input("Signed by every investor")
    at.run()
    assert "as version 2 of what it replaces" in question(at, "upload")
    at = at.button(key="upload-yes").click().run()
    assert not errors(at), errors(at)
    assert stored(fund.pool_id) == [
        ("Subscription agreement", 1, ""),
        ("Subscription agreement (signed)", 2, "Signed by every investor"),
    ]

    # Listed with its versions.
    at = view(at, "Documents")
    shared = at.dataframe[0].value
    assert list(zip(shared["Document"], shared["Version"], shared["For"], strict=True)) == [
        ("Subscription agreement (signed)", 2, "All investors")
    ]
    at = at.selectbox(key=f"manager-document-{fund.pool_id}").select(latest(fund.pool_id)).run()
    versions = at.dataframe[-1].value
    assert list(versions["Version"]) == [2, 1]
    assert unreadable(at) == []


def test_a_quarters_statements_are_issued_once_asked_first(make: Any) -> None:
    fund = Fund(make, age=200)  # committed well before the last quarter ended
    at = view(
        goto(logged_in(fund.manager.username), DOCUMENTS, manager_pool_id=fund.pool_id),
        "Quarterly statements",
    )
    _, last_end = notices.quarter_of(notices.quarter_of(clock.today())[0] - timedelta(days=1))
    label = notices.quarter_label(last_end)
    [quarter] = [s for s in at.selectbox if s.label == "Quarter"]
    assert quarter.value == last_end
    key = f"statements-{fund.pool_id}"
    asked = question(at, key)
    assert f"Issue the {label} capital account statements of" in asked and "cannot be withdrawn" in asked
    at = at.button(key=f"{key}-yes").click().run()
    assert not errors(at), errors(at)
    assert successes(at) == [f"3 statements of {label} issued: they are being prepared and sent."]
    with bootstrap.unit_of_work() as uow:
        issued = uow.session.execute(
            select(func.count()).where(Notice.pool_id == fund.pool_id, Notice.kind == "statement")
        ).scalar_one()
    assert issued == 3
    question(at, key)
    at = at.button(key=f"{key}-yes").click().run()
    assert any(s.startswith(f"No statement of {label} was issued") for s in successes(at)), successes(at)
