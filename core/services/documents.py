"""The document vault: every generated notice and statement, and what managers upload for a pool.

A document is immutable (the database refuses UPDATE and DELETE): its content, SHA-256, version,
author, time and note are written once. A reissue or a replacement is the next version of the same
series, with a note saying why; earlier versions stay readable.

Who reads what: an investor their own documents and the shared documents of pools they are in
(a pending or accepted commitment); the pool's manager everything of the pool; an admin
everything; an analyst the shared documents. Every download is audited ("document.download"), and
so is every refused one, by id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, func, insert, or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased

from core.domain import clean_text
from core.errors import Collector, NotFound, PermissionDenied, ValidationError
from core.permissions import ADMIN, ANALYST, FUND_MANAGER, INVESTOR, Actor, managed_by, require_manager_of
from core.services.audit import audits_refused_reads, records_refusals
from core.services.pools import load_pool
from core.uow import UnitOfWork
from core.vocabulary import CommitmentStatus, DocumentKind, label
from db.models import Commitment, Document, Pool, User

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_KINDS = (DocumentKind.AGREEMENT, DocumentKind.SUBSCRIPTION, DocumentKind.REPORT, DocumentKind.OTHER)
# What a file is, from its first bytes (never its name): PDF, PNG or JPEG, nothing else.
MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
KIND_LABELS = {
    DocumentKind.CAPITAL_CALL_NOTICE: "Capital call notice",
    DocumentKind.DISTRIBUTION_NOTICE: "Distribution notice",
    DocumentKind.CAPITAL_ACCOUNT_STATEMENT: "Capital account statement",
    DocumentKind.AGREEMENT: "Pool agreement",
    DocumentKind.SUBSCRIPTION: "Subscription documents",
    DocumentKind.REPORT: "Report",
    DocumentKind.OTHER: "Other document",
}
MEMBERS = (CommitmentStatus.PENDING, CommitmentStatus.ACCEPTED)  # an investor "in" a pool


@dataclass(frozen=True)
class DocumentView:
    id: int
    pool_id: int
    pool_name: str
    investor_id: int | None  # None: shared with the pool's investors
    kind: str
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    version: int
    note: str
    author: str | None
    created_at: datetime

    @property
    def shared(self) -> bool:
        return self.investor_id is None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(DocumentKind(self.kind), label(self.kind))


@dataclass(frozen=True)
class Download:
    document: DocumentView
    content: bytes


@dataclass(frozen=True)
class NewDocument:
    """A document to store: the next version of its series."""

    pool_id: int
    investor_id: int | None
    kind: DocumentKind
    series: str
    title: str
    filename: str
    content_type: str
    content: bytes
    author_id: int | None
    note: str = ""


def store(uow: UnitOfWork, documents: list[NewDocument]) -> list[int]:
    """Write documents (a render batch) in one statement, each the next version of its series;
    their ids in order. Two writers of one series at once: the unique (series, version) index
    refuses the later, whose transaction then retries."""
    if not documents:
        return []
    series = sorted({d.series for d in documents})
    latest: dict[str, int] = dict(
        uow.session.execute(
            select(Document.series, func.max(Document.version))
            .where(Document.series.in_(series))
            .group_by(Document.series)
        ).all()
    )
    rows = []
    for d in documents:
        latest[d.series] = latest.get(d.series, 0) + 1
        rows.append(
            {
                "pool_id": d.pool_id,
                "investor_id": d.investor_id,
                "kind": d.kind.value,
                "series": d.series,
                "version": latest[d.series],
                "title": d.title[:200],
                "filename": d.filename[:200],
                "content_type": d.content_type,
                "size": len(d.content),
                "sha256": hashlib.sha256(d.content).hexdigest(),
                "note": d.note[:500],
                "author_id": d.author_id,
                "content": d.content,
            }
        )
    ids = uow.session.execute(insert(Document).returning(Document.id, sort_by_parameter_order=True), rows)
    return list(ids.scalars())


# --- reading ------------------------------------------------------------------------------------------


def is_member(uow: UnitOfWork, pool_id: int, investor_id: int | None) -> bool:
    """An investor is in a pool with a pending or accepted commitment to it."""
    return bool(
        uow.session.execute(
            select(
                exists().where(
                    Commitment.pool_id == pool_id,
                    Commitment.investor_id == investor_id,
                    Commitment.status.in_([s.value for s in MEMBERS]),
                )
            )
        ).scalar()
    )


def _member_pools(actor: Actor) -> Any:
    return select(Commitment.pool_id).where(
        Commitment.investor_id == actor.user_id, Commitment.status.in_([s.value for s in MEMBERS])
    )


def _readable(actor: Actor) -> Any:
    """The documents this actor may read, as a condition on documents joined to pools."""
    if actor.is_system or actor.role == ADMIN:
        return true()
    if actor.role == FUND_MANAGER:
        return managed_by(actor.user_id)
    if actor.role == INVESTOR:
        return or_(
            Document.investor_id == actor.user_id,
            and_(Document.investor_id.is_(None), Document.pool_id.in_(_member_pools(actor))),
        )
    if actor.role == ANALYST:
        return Document.investor_id.is_(None)
    return false()


_AUTHOR = aliased(User)
_COLUMNS = (
    Document.id,
    Document.pool_id,
    Pool.name,
    Document.investor_id,
    Document.kind,
    Document.title,
    Document.filename,
    Document.content_type,
    Document.size,
    Document.sha256,
    Document.version,
    Document.note,
    _AUTHOR.name,
    Document.created_at,
)


def _views(uow: UnitOfWork, query: Any) -> list[DocumentView]:
    return [DocumentView(*row) for row in uow.session.execute(query)]


def _listing(where: Any) -> Any:
    return (
        select(*_COLUMNS)
        .join(Pool, Pool.id == Document.pool_id)
        .outerjoin(_AUTHOR, _AUTHOR.id == Document.author_id)
        .where(where)
    )


def visible(
    actor: Actor, uow: UnitOfWork, *, pool_id: int | None = None, investor_id: int | None = None
) -> list[DocumentView]:
    """The latest version of every document this actor may read, newest first; narrowed to one
    pool, or (for a manager or admin) to one investor's and the shared ones."""
    where = [_readable(actor)]
    if pool_id is not None:
        where.append(Document.pool_id == pool_id)
    if investor_id is not None:
        where.append(or_(Document.investor_id == investor_id, Document.investor_id.is_(None)))
    latest = (
        _listing(and_(*where))
        .order_by(Document.series, Document.version.desc())
        .ext(distinct_on(Document.series))
        .subquery()
    )
    return _views(uow, select(latest).order_by(latest.c.created_at.desc(), latest.c.id.desc()))


def pool_documents(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[DocumentView]:
    """What the pool detail page lists for this actor: the pool's shared documents and, for an
    investor, their own (latest versions)."""
    return visible(actor, uow, pool_id=pool_id)


def _refused(actor: Actor, uow: UnitOfWork, action: str, document_id: object, exc: PermissionDenied) -> None:
    """A refusal by id is audited once, with the id asked for."""
    uow.rollback()
    uow.record_refusal(actor.user_id, action, "document", document_id, exc.message)
    exc.recorded = True  # type: ignore[attr-defined]  # read by audits_refused_reads


def _checked(actor: Actor, uow: UnitOfWork, document_id: object, action: str) -> DocumentView:
    if not isinstance(document_id, int) or isinstance(document_id, bool):
        raise NotFound("no such document")
    try:
        found = _views(uow, _listing(Document.id == document_id))
        if not found:
            raise NotFound("no such document")
        if not _views(uow, _listing(and_(Document.id == document_id, _readable(actor)))):
            raise PermissionDenied("this document is not yours to read")
    except PermissionDenied as exc:
        _refused(actor, uow, action, document_id, exc)
        raise
    return found[0]


def document(actor: Actor, uow: UnitOfWork, document_id: int) -> DocumentView:
    """One document's description (no content); refused, and audited, if it is not the actor's."""
    return _checked(actor, uow, document_id, "document.read")


def versions(actor: Actor, uow: UnitOfWork, document_id: int) -> list[DocumentView]:
    """Every version of a document's series, newest first."""
    _checked(actor, uow, document_id, "document.read")
    series = select(Document.series).where(Document.id == document_id).scalar_subquery()
    return _views(uow, _listing(Document.series == series).order_by(Document.version.desc()))


def download(actor: Actor, uow: UnitOfWork, document_id: int) -> Download:
    """The document's bytes, for a download; the download is audited (a refusal too)."""
    view = _checked(actor, uow, document_id, "document.download")
    content = uow.session.execute(select(Document.content).where(Document.id == document_id)).scalar_one()
    uow.audit(
        actor.user_id,
        "document.download",
        "document",
        document_id,
        after={"title": view.title, "version": view.version, "sha256": view.sha256},
    )
    uow.commit()
    return Download(view, content)


# --- uploads ------------------------------------------------------------------------------------------


def content_type_of(data: bytes) -> tuple[str, str]:
    """(content type, extension) by the file's first bytes; refused unless PDF, PNG or JPEG."""
    for magic, content_type, extension in MAGIC:
        if data.startswith(magic):
            return content_type, extension
    raise ValidationError(
        "file", "must be a PDF, PNG or JPEG file (its contents say it is not, whatever its name)"
    )


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: object, extension: str) -> str:
    """A download name that is only a name: no folders, no control or odd characters, and the
    extension of what the file really is."""
    text = unicodedata.normalize("NFKD", str(name or "")).encode("ascii", "ignore").decode()
    base = text.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{_UNSAFE.sub('_', stem).strip(' ._')[:120] or 'document'}{extension}"


@dataclass(frozen=True)
class UploadPreview:
    """What an upload will put in the vault, checked exactly as the upload checks it."""

    pool_id: int
    pool_name: str
    investor_id: int | None  # None: shared with the pool's investors
    kind: str
    title: str
    filename: str  # as it will be stored: a safe name with the extension of what the file is
    content_type: str
    size: int
    sha256: str
    note: str
    replaces: int | None
    version: int  # the version it will be: 1, or the replaced document's series' next

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(DocumentKind(self.kind), label(self.kind))


def _checked_upload(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int,
    *,
    kind: str,
    title: str,
    filename: str,
    data: bytes,
    investor_id: int | None,
    note: str,
    replaces: int | None,
) -> tuple[UploadPreview, NewDocument]:
    """The one validation of an upload, for its preview and for the upload itself: every problem
    reported at once."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    collect = Collector()
    with collect("kind"):
        if kind not in UPLOAD_KINDS:
            raise ValidationError(
                "kind", f"must be one of: {', '.join(KIND_LABELS[k].lower() for k in UPLOAD_KINDS)}"
            )
    with collect("title"):
        title = clean_text(title, "title", max_length=200)
    with collect("note"):
        note = clean_text(note, "note", max_length=500, required=replaces is not None)
    with collect("file"):
        if not isinstance(data, bytes) or not data:
            raise ValidationError("file", "is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValidationError(
                "file", f"is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", limit=MAX_UPLOAD_BYTES
            )
        content_type, extension = content_type_of(data)
    with collect("investor_id"):
        if investor_id is not None and not is_member(uow, pool.id, investor_id):
            raise ValidationError("investor_id", "is not an investor of this pool")
    series, version = f"upload:{pool.id}:{uuid.uuid4().hex}", 1
    with collect("replaces"):
        if replaces is not None:
            earlier = uow.session.execute(
                select(Document.series, Document.investor_id, Document.kind).where(
                    Document.id == replaces, Document.pool_id == pool.id
                )
            ).one_or_none()
            if earlier is None:
                raise ValidationError("replaces", "is not a document of this pool")
            if earlier.investor_id != investor_id or earlier.kind != kind:
                raise ValidationError("replaces", "is a document of another kind or for someone else")
            series = earlier.series
            version = (
                1
                + uow.session.execute(
                    select(func.max(Document.version)).where(Document.series == series)
                ).scalar_one()
            )
    collect.raise_any()
    stored_name = safe_filename(filename, extension)
    preview = UploadPreview(
        pool.id,
        pool.name,
        investor_id,
        kind,
        title,
        stored_name,
        content_type,
        len(data),
        hashlib.sha256(data).hexdigest(),
        note,
        replaces,
        version,
    )
    document = NewDocument(
        pool.id,
        investor_id,
        DocumentKind(kind),
        series,
        title,
        stored_name,
        content_type,
        data,
        actor.user_id,
        note,
    )
    return preview, document


@audits_refused_reads
def preview_upload(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int,
    *,
    kind: str,
    title: str,
    filename: str,
    data: bytes,
    investor_id: int | None = None,
    note: str = "",
    replaces: int | None = None,
) -> UploadPreview:
    """What upload() would store, checked as upload() checks it (type and size by the file's
    contents, title, note, whom it is for, what it replaces); nothing is written."""
    return _checked_upload(
        actor,
        uow,
        pool_id,
        kind=kind,
        title=title,
        filename=filename,
        data=data,
        investor_id=investor_id,
        note=note,
        replaces=replaces,
    )[0]


@records_refusals("document.upload", "pool")
def upload(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int,
    *,
    kind: str,
    title: str,
    filename: str,
    data: bytes,
    investor_id: int | None = None,
    note: str = "",
    replaces: int | None = None,
) -> DocumentView:
    """A manager puts a pool document in the vault: shared with the pool's investors, or for one
    investor of the pool. `replaces` (a document of the pool) makes it that document's next
    version, and then a note saying why is required. Every problem is reported at once
    (preview_upload() shows the same checks before the person confirms)."""
    _, new = _checked_upload(
        actor,
        uow,
        pool_id,
        kind=kind,
        title=title,
        filename=filename,
        data=data,
        investor_id=investor_id,
        note=note,
        replaces=replaces,
    )
    [document_id] = store(uow, [new])
    view = _views(uow, _listing(Document.id == document_id))[0]
    uow.audit(
        actor.user_id,
        "document.upload",
        "document",
        document_id,
        after={
            "pool_id": new.pool_id,
            "investor_id": investor_id,
            "kind": kind,
            "title": new.title,
            "version": view.version,
            "size": view.size,
            "sha256": view.sha256,
            "note": new.note,
        },
    )
    uow.commit()
    return view
