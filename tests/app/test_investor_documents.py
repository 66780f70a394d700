"""The investor's Documents page (AppTest from Home.py): the inbox of what was sent to them with
unread markers, their pools' documents, downloads that are audited and mark a notice read, and
nothing of another investor's."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import bcrypt
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app import webapp
from core import bootstrap, clock, operations
from core.services import calls, documents, notices, pools, users
from db.models import AuditLog, CallItem, Notice
from tests.app.manager_support import deferred_downloads, logged_in
from tests.conftest import Factory

DOCUMENTS = "pages/investor_documents.py"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(scope="module", autouse=True)
def fast_bcrypt() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users, "hash_password", lambda p: bcrypt.hashpw(p.encode(), bcrypt.gensalt(4)).decode())
        yield


@pytest.fixture(autouse=True)
def with_documents_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """Navigation with the Documents page, whether or not app.webapp.PAGES lists it yet."""
    pages = list(webapp.PAGES["investor"])
    if DOCUMENTS not in [spec.path for spec in pages]:
        pages.append(webapp.PageSpec(DOCUMENTS, "Documents", ":material/folder_open:"))
    monkeypatch.setitem(webapp.PAGES, "investor", pages)


@pytest.fixture(scope="module")
def fund(fast_bcrypt: None) -> dict[str, Any]:
    """A pool with two investors, a capital call whose notices are rendered, and a shared agreement."""
    make = Factory(bootstrap.unit_of_work)
    with clock.travel(date.today() - timedelta(days=20)):
        pool_id, manager = make.pool(name="Harbor Fund [docs](https://evil.example)")
        ivy = make.commitment(pool_id, amount="100000", accept_as=manager)[1]
        oak = make.commitment(pool_id, amount="300000", accept_as=manager)[1]
        with bootstrap.unit_of_work() as uow:
            pools.close_pool(manager, uow, pool_id)
        with bootstrap.unit_of_work() as uow:
            command = calls.preview(manager, uow, pool_id, {"percent": "10", "purpose": "Series A"}).command
            status = calls.issue(manager, uow, command)
        assert operations.process(str(status.id), bootstrap.unit_of_work) == "done"
    while True:
        with bootstrap.unit_of_work() as uow:
            batch = notices.render_pending(uow)
            uow.commit()
        if not batch.count:
            break
    with bootstrap.unit_of_work() as uow:
        agreement = documents.upload(
            manager,
            uow,
            pool_id,
            kind="agreement",
            title="Limited partnership agreement",
            filename="lpa.pdf",
            data=PDF,
        )
    return {"pool": pool_id, "manager": manager, "ivy": ivy, "oak": oak, "agreement": agreement}


def documents_page(person: Any) -> Any:
    at = logged_in(person.username)
    at.switch_page(DOCUMENTS).run()
    assert not at.exception, at.exception
    return at


def own_notice(person: Any) -> Notice:
    with bootstrap.unit_of_work() as uow:
        found = uow.session.execute(
            select(Notice).where(Notice.investor_id == person.user_id, Notice.kind == "capital_call")
        ).scalar_one()
        uow.session.expunge_all()
        return found


def test_the_inbox_lists_what_was_sent_with_unread_markers_and_the_pools_documents(
    fund: dict[str, Any],
) -> None:
    at = documents_page(fund["ivy"])
    assert [s.value for s in at.subheader] == ["Inbox, 1 unread notice", "Your pools' documents"]
    inbox = at.dataframe[0].value
    assert list(inbox["New"]) == ["●"]
    assert list(inbox["Notice"]) == ["Capital call notice: capital call 1"]
    assert list(inbox["Pool"]) == ["Harbor Fund [docs](https://evil.example)"]  # a table shows text as text
    with bootstrap.unit_of_work() as uow:
        due = uow.session.execute(
            select(CallItem.amount_due).where(CallItem.investor_id == fund["ivy"].user_id)
        ).scalar_one()
    assert list(inbox["Amount"]) == [f"${due:,.2f}"]
    vault = at.dataframe[-1].value
    assert sorted(zip(vault["Document"], vault["For"], vault["Kind"], strict=True)) == [
        ("Capital call 1 notice: Harbor Fund [docs](https://evil.example)", "You", "Capital call notice"),
        ("Limited partnership agreement", "All investors", "Pool agreement"),
    ]


def test_opening_a_notice_downloads_it_audits_it_and_marks_it_read(fund: dict[str, Any]) -> None:
    ivy = fund["ivy"]
    notice = own_notice(ivy)
    at = documents_page(ivy)
    with deferred_downloads() as downloads:
        at.selectbox(key="documents-notice").select(notice.id).run()
    assert not at.exception, at.exception
    [button] = at.get("download_button")
    assert button.proto.label == "Download the notice (PDF)"
    content = downloads[button.proto.deferred_file_id]()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "Capital call notice" in text and f"Test {ivy.username}" in text
    with bootstrap.unit_of_work() as uow:
        read_at = uow.session.execute(select(Notice.read_at).where(Notice.id == notice.id)).scalar_one()
        audited = (
            uow.session.execute(
                select(AuditLog.object_id).where(
                    AuditLog.actor_id == ivy.user_id,
                    AuditLog.action == "document.download",
                    AuditLog.outcome == "ok",
                )
            )
            .scalars()
            .all()
        )
    assert read_at is not None and str(notice.document_id) in audited
    at.run()
    assert list(at.dataframe[0].value["New"]) == [""]
    assert [s.value for s in at.subheader][0] == "Inbox"


def test_the_page_shows_nothing_of_another_investor_and_refuses_their_notice_by_id(
    fund: dict[str, Any],
) -> None:
    ivy, oak = fund["ivy"], fund["oak"]
    theirs = own_notice(oak)
    at = documents_page(ivy)
    [mine] = at.dataframe[0].value["Notice"]
    assert len(at.selectbox(key="documents-notice").options) == 1
    assert len(at.dataframe[-1].value) == 2  # the shared agreement and Ivy's own notice, not Oak's
    # Their notice asked for by id (a forged request): refused, and the refusal audited.
    with bootstrap.unit_of_work() as uow, pytest.raises(Exception, match="not yours"):
        notices.open_notice(ivy, uow, theirs.id)
    with bootstrap.unit_of_work() as uow:
        refused = (
            uow.session.execute(
                select(AuditLog.object_id).where(
                    AuditLog.actor_id == ivy.user_id,
                    AuditLog.action == "notice.open",
                    AuditLog.outcome == "refused",
                )
            )
            .scalars()
            .all()
        )
    assert str(theirs.id) in refused


def test_an_investor_with_nothing_yet_is_told_what_will_come(make: Any) -> None:
    at = documents_page(make.user("investor"))
    assert [i.value for i in at.info][0].startswith("Nothing has been sent to you yet")
    assert any(i.value.startswith("No documents yet") for i in at.info)


def test_other_roles_cannot_open_the_page(fund: dict[str, Any]) -> None:
    at = logged_in(fund["manager"].username)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(DOCUMENTS)
