"""The document vault (issue 16): uploads checked by content and size, immutable versions, who may
read what, and an audit row for every download and every refused one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core import clock
from core.errors import FieldErrors, NotFound, PermissionDenied, ValidationError
from core.services import documents, pools
from db.models import AuditLog
from tests.conftest import Factory

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


class Pool:
    """A closed pool with two investors in it, and an outsider in a pool of their own."""

    def __init__(self, make: Factory) -> None:
        self.make = make
        self.uow = make.uow_factory
        with clock.travel(date.today() - timedelta(days=30)):
            self.id, self.manager = make.pool()
            self.ivy = make.commitment(self.id, amount="100000", accept_as=self.manager)[1]
            self.oak = make.commitment(self.id, amount="100000", accept_as=self.manager)[1]
            with self.uow() as uow:
                pools.close_pool(self.manager, uow, self.id)
            other_pool, other_manager = make.pool()
            self.outsider = make.commitment(other_pool, amount="100000", accept_as=other_manager)[1]

    def upload(self, actor: Any = None, **request: Any) -> documents.DocumentView:
        request = {
            "kind": "agreement",
            "title": "Limited partnership agreement",
            "filename": "lpa.pdf",
            "data": PDF,
            **request,
        }
        with self.uow() as uow:
            return documents.upload(actor or self.manager, uow, self.id, **request)


@pytest.fixture
def pool(make: Factory) -> Pool:
    return Pool(make)


def refusals(uow_factory: Callable[[], Any], actor: Any) -> list[tuple[str, str, str | None]]:
    with uow_factory() as uow:
        return [
            tuple(row)
            for row in uow.session.execute(
                select(AuditLog.action, AuditLog.object_type, AuditLog.object_id).where(
                    AuditLog.actor_id == actor.user_id, AuditLog.outcome == "refused"
                )
            )
        ]


def test_uploads_are_typed_by_their_content_and_sized(pool: Pool) -> None:
    assert (
        pool.upload(data=PNG, filename="chart.PDF", kind="report", title="Q1 chart").content_type
        == "image/png"
    )
    shown = pool.upload(data=JPEG, filename="../../etc/passwd", kind="other", title="Photo")
    assert (shown.content_type, shown.filename) == ("image/jpeg", "passwd.jpg")
    with pytest.raises(ValidationError, match="PDF, PNG or JPEG"):
        pool.upload(data=b"<html><script>alert(1)</script></html>", filename="notice.pdf")
    with pytest.raises(ValidationError, match="larger than 20 MB"):
        pool.upload(data=PDF + b"x" * documents.MAX_UPLOAD_BYTES)
    with pytest.raises(FieldErrors) as every:
        pool.upload(data=b"", kind="capital_call_notice", title="")
    assert set(every.value.fields) == {"kind", "title", "file"}  # every problem at once
    with pytest.raises(ValidationError, match="not an investor of this pool"):
        pool.upload(investor_id=pool.outsider.user_id, kind="subscription")


def test_only_the_pools_manager_uploads(pool: Pool) -> None:
    for intruder in (pool.make.user("fund_manager"), pool.ivy, pool.make.user("admin")):
        with pytest.raises(PermissionDenied):
            pool.upload(actor=intruder)
    assert ("document.upload", "pool", str(pool.id)) in refusals(pool.uow, pool.ivy)


def test_each_investor_reads_their_own_and_their_pools_shared_documents_only(pool: Pool) -> None:
    shared = pool.upload()
    ivys = pool.upload(kind="subscription", title="Ivy's subscription", investor_id=pool.ivy.user_id)
    with pool.uow() as uow:
        assert {d.id for d in documents.visible(pool.ivy, uow)} >= {shared.id, ivys.id}
        assert ivys.id not in {d.id for d in documents.visible(pool.oak, uow)}
        assert shared.id in {d.id for d in documents.pool_documents(pool.oak, uow, pool.id)}
        assert documents.visible(pool.outsider, uow, pool_id=pool.id) == []
        assert {d.id for d in documents.visible(pool.manager, uow, pool_id=pool.id)} == {shared.id, ivys.id}
        analyst = documents.visible(pool.make.user("analyst"), uow, pool_id=pool.id)
    assert [d.id for d in analyst] == [shared.id]  # shared ones only: no investor's own papers
    # Another investor's document by id: refused, and the refusal audited with the id.
    for reader, document_id in ((pool.oak, ivys.id), (pool.outsider, shared.id), (pool.outsider, ivys.id)):
        for service in (documents.download, documents.document, documents.versions):
            with pool.uow() as uow, pytest.raises(PermissionDenied):
                service(reader, uow, document_id)
    assert ("document.download", "document", str(ivys.id)) in refusals(pool.uow, pool.oak)
    assert ("document.read", "document", str(shared.id)) in refusals(pool.uow, pool.outsider)
    with pool.uow() as uow, pytest.raises(NotFound):
        documents.download(pool.ivy, uow, 10**12)


def test_every_download_is_audited_with_what_was_downloaded(pool: Pool) -> None:
    shared = pool.upload()
    with pool.uow() as uow:
        got = documents.download(pool.ivy, uow, shared.id)
    assert got.content == PDF and got.document.sha256 == shared.sha256
    with pool.uow() as uow:
        [row] = uow.session.execute(
            select(AuditLog).where(
                AuditLog.action == "document.download", AuditLog.object_id == str(shared.id)
            )
        ).scalars()
        seen = (row.actor_id, row.outcome, row.after["sha256"], row.after["version"])
    assert seen == (
        pool.ivy.user_id,
        "ok",
        shared.sha256,
        1,
    )


def test_a_replacement_is_the_next_version_with_a_note_and_the_rows_are_immutable(pool: Pool) -> None:
    first = pool.upload()
    with pytest.raises(ValidationError, match="Note is required"):
        pool.upload(replaces=first.id, data=PDF + b"% v2\n")
    with pytest.raises(ValidationError, match="another kind or for someone else"):
        pool.upload(replaces=first.id, kind="report", note="x")
    second = pool.upload(replaces=first.id, data=PDF + b"% v2\n", note="Signed by the GP")
    with pool.uow() as uow:
        history = documents.versions(pool.oak, uow, first.id)
        listed = documents.visible(pool.oak, uow, pool_id=pool.id)
    assert [(d.id, d.version, d.note) for d in history] == [
        (second.id, 2, "Signed by the GP"),
        (first.id, 1, ""),
    ]
    assert [d.id for d in listed] == [second.id]  # the listing shows the latest version
    assert first.sha256 != second.sha256 and history[0].author is not None
    for statement in (
        "UPDATE documents SET note = 'edited' WHERE id = :id",
        "DELETE FROM documents WHERE id = :id",
        "TRUNCATE documents",
    ):
        with pool.uow() as uow, pytest.raises(DBAPIError, match="documents are immutable"):
            uow.session.execute(text(statement), {"id": first.id})


def test_a_filename_is_only_a_name_with_the_real_extension() -> None:
    assert documents.safe_filename("C:\\Users\\x\\Zoë report.final.pdf", ".png") == "Zoe report.final.png"
    assert documents.safe_filename("<script>.pdf", ".pdf") == "script.pdf"
    assert documents.safe_filename("", ".pdf") == "document.pdf"
    assert documents.safe_filename("=HYPERLINK(1).pdf", ".pdf") == "HYPERLINK_1.pdf"
