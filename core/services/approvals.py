"""Approval by a second person: a distribution (and a capital call above the pool's threshold) is
drafted by one manager of the pool and approved by another, or by an admin.

draft()    runs the very preview the page shows and stores it: the request, the preview's figures,
           and the pool version and journal high-water mark it was computed at.
approve()  by another manager of the pool or an admin, never the drafter: refused, naming what
           changed, if the pool moved since the draft (journals posted, its version); otherwise it
           re-runs the preview, which must equal the stored one, and submits the posting operation
           with exactly the stored request. The worker checks again, before posting anything, that
           what it is about to post equals the approved figures (may_post, approved_if_needed,
           as_approved).
reject()   another manager or an admin, with a reason; withdraw(): the drafter, with a reason.

Every step is audited (approval.draft, .approve, .reject, .withdraw; refusals too). Two approvals
at once lock the same row: one posts, the other is told it was approved already.

This module knows no feature: the distributions and calls modules register a Drafting for their
kind (as operation kinds register with the engine).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core import clock
from core.domain import clean_text
from core.errors import Conflict, InvalidState, NotFound, PermissionDenied, Stale, ValidationError
from core.formatting import count
from core.ledger import read_model
from core.operations import OperationStatus, submit
from core.permissions import ADMIN, FUND_MANAGER, Actor, is_manager_of, require_manager_of, require_role
from core.services.audit import audits_refused_reads, records_refusals
from core.services.pools import load_pool
from core.uow import UnitOfWork
from core.vocabulary import ApprovalStatus, label
from db.models import Approval, Journal, Pool, User

# What the worker adds to a request it posts (not part of what was approved).
POSTING_KEYS = ("approval_id", "upto_journal")


@dataclass(frozen=True)
class Drafting:
    """How one kind is drafted: its preview (permission already checked), the preview as JSON and
    back, what it totals (for a threshold), and the amounts each investor's journals will carry."""

    kind: str  # the approval kind and the operation kind alike
    what: str  # "distribution", "capital call": how messages name it
    preview: Callable[[UnitOfWork, Pool, Mapping[str, Any]], Any]
    to_json: Callable[[Any], dict[str, Any]]
    from_json: Callable[[dict[str, Any]], Any]
    total: Callable[[Any], Decimal]
    amounts: Callable[[dict[str, Any]], dict[int, tuple[Decimal, ...]]]  # from the JSON figures
    always: bool  # needs approval whatever its size (a distribution); else above the pool's threshold


DRAFTINGS: dict[str, Drafting] = {}


def register(drafting: Drafting) -> None:
    DRAFTINGS[drafting.kind] = drafting


def _drafting(kind: str) -> Drafting:
    found = DRAFTINGS.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ValidationError("kind", f"is not something drafted for approval ({str(kind)[:40]!r})")
    return found


def needs_approval(pool: Pool, kind: str, total: Decimal) -> bool:
    """A distribution always; a capital call when its total is above the pool's threshold."""
    drafting = _drafting(kind)
    if drafting.always:
        return True
    return pool.call_approval_threshold is not None and total > pool.call_approval_threshold


def may_decide(uow: UnitOfWork, actor: Actor, pool: Pool) -> bool:
    """A manager of the pool (lead or co-manager) or an admin approves or rejects a draft."""
    return actor.is_system or actor.role == ADMIN or is_manager_of(actor, uow, pool)


def _require_decider(actor: Actor, uow: UnitOfWork, pool: Pool) -> None:
    if not may_decide(uow, actor, pool):
        raise PermissionDenied("only another manager of the pool or an admin may approve or reject this")


# --- the posting side: what the operation kinds call -----------------------------------------------


def approved_if_needed(
    pool: Pool, kind: str, payload: Mapping[str, Any], total: Decimal, actor: Actor
) -> None:
    """A request that needs approval is refused unless it is an approved one (checked by may_post)."""
    if payload.get("approval_id") is None and not actor.is_system and needs_approval(pool, kind, total):
        raise InvalidState(
            f"this {_drafting(kind).what} needs a second manager's approval: submit it for approval"
        )


def may_post(
    uow: UnitOfWork, actor: Actor, pool: Pool, kind: str, payload: Mapping[str, Any], operation_id: Any = None
) -> None:
    """Who may post: a manager of the pool; an approved request, only the one who approved it, exactly
    as approved. Checked before the request itself, so a stranger learns nothing about the pool."""
    approval_id = payload.get("approval_id")
    if approval_id is None:
        require_manager_of(actor, uow, pool)
        return
    approval = uow.session.get(Approval, approval_id) if isinstance(approval_id, int) else None
    asked = {k: v for k, v in payload.items() if k not in POSTING_KEYS}
    if (
        approval is None
        or approval.pool_id != pool.id
        or approval.kind != kind
        or approval.status != ApprovalStatus.APPROVED
        or approval.request != asked
        or (approval.decided_by != actor.user_id and not actor.is_system)
        or (operation_id is not None and approval.operation_id not in (None, operation_id))
    ):
        raise PermissionDenied("this request is not the one that was approved")
    if not actor.is_system:
        _require_decider(actor, uow, pool)


def as_approved(
    uow: UnitOfWork, payload: Mapping[str, Any], kind: str, amounts: dict[int, tuple[Decimal, ...]]
) -> None:
    """Before posting an approved request: what the worker computed equals the approved preview to
    the cent, investor by investor; otherwise nothing is posted."""
    approval_id = payload.get("approval_id")
    if approval_id is None:
        return
    approval = uow.session.get(Approval, approval_id)
    if approval is None:
        raise PermissionDenied("this request is not the one that was approved")
    approved = _drafting(kind).amounts(approval.figures)
    if approved != amounts:
        differ = sorted(i for i in set(approved) | set(amounts) if approved.get(i) != amounts.get(i))
        raise Stale(
            f"what would be posted differs from the approved preview for {count(len(differ), 'investor')}; "
            "nothing was posted: draft it again"
        )


def submitted(uow: UnitOfWork, operation_id: Any, clean: Mapping[str, Any]) -> None:
    """The posting operation of an approved draft is recorded: the draft points at it (same transaction)."""
    approval_id = clean.get("approval_id")
    if approval_id is not None:
        approval = uow.session.get(Approval, approval_id)
        if approval is not None:
            approval.operation_id = operation_id


# --- drafting and deciding -------------------------------------------------------------------------


def _figures(drafting: Drafting, preview: Any) -> dict[str, Any]:
    return drafting.to_json(preview)


def _comparable(figures: dict[str, Any]) -> dict[str, Any]:
    """Figures without the names shown beside them (a renamed investor changes no amount)."""
    return {k: v for k, v in figures.items() if k not in ("names", "pool_name")}


@records_refusals("approval.draft", "pool")
def draft(actor: Actor, uow: UnitOfWork, pool_id: int, kind: str, request: Mapping[str, Any]) -> int:
    """A manager of the pool submits a previewed request for approval: the same preview, stored."""
    drafting = _drafting(kind)
    pool = load_pool(uow, pool_id, lock=True)  # postings wait: the figures and the mark agree
    require_manager_of(actor, uow, pool)
    preview = drafting.preview(uow, pool, request)
    if not needs_approval(pool, kind, drafting.total(preview)):
        raise InvalidState(f"this {drafting.what} needs no approval: issue it directly")
    request_ = preview.command.payload()
    approval = Approval(
        pool_id=pool.id,
        kind=kind,
        request=request_,
        figures=_figures(drafting, preview),
        pool_version=pool.version,
        upto_journal=read_model.last_journal(uow.session, pool.id),
        drafted_by=actor.user_id,
        status=ApprovalStatus.DRAFTED,
    )
    uow.session.add(approval)
    uow.session.flush()
    uow.audit(
        actor.user_id,
        "approval.draft",
        "approval",
        approval.id,
        after={"pool_id": pool.id, "kind": kind, **request_, "total": str(drafting.total(preview))},
    )
    uow.commit()
    return approval.id


def _locked(uow: UnitOfWork, approval_id: int) -> Approval:
    approval = (
        uow.session.execute(
            select(Approval).where(Approval.id == approval_id).with_for_update()
        ).scalar_one_or_none()
        if isinstance(approval_id, int) and not isinstance(approval_id, bool)
        else None
    )
    if approval is None:
        raise NotFound("no such draft awaiting approval")
    return approval


def _name(uow: UnitOfWork, user_id: int | None) -> str:
    if user_id is None:
        return "the system"
    return uow.session.execute(select(User.name).where(User.id == user_id)).scalar_one_or_none() or "?"


def _still_drafted(uow: UnitOfWork, approval: Approval) -> None:
    if approval.status != ApprovalStatus.DRAFTED:
        what = _drafting(approval.kind).what
        raise Conflict(
            f"this {what} was already {label(approval.status)} by {_name(uow, approval.decided_by)}; nothing more was done"
        )


def what_changed(uow: UnitOfWork, pool: Pool, approval: Approval) -> list[str]:
    """What moved in the pool since the draft, in words: journals posted (by kind), its version."""
    changes = []
    kinds = uow.session.execute(
        select(Journal.kind, func.count())
        .where(Journal.pool_id == pool.id, Journal.id > (approval.upto_journal or 0))
        .group_by(Journal.kind)
        .order_by(Journal.kind)
    ).all()
    if kinds:
        posted = sum(n for _, n in kinds)
        changes.append(
            f"{count(posted, 'journal')} posted since ({', '.join(f'{label(k)} {n}' for k, n in kinds)})"
        )
    if pool.version != approval.pool_version:
        changes.append(f"its version moved from {approval.pool_version} to {pool.version}")
    return changes


@records_refusals("approval.approve", "approval")
def approve(actor: Actor, uow: UnitOfWork, approval_id: int) -> OperationStatus:
    """Another manager of the pool, or an admin, approves a draft: exactly its request is posted."""
    approval = _locked(uow, approval_id)
    pool = load_pool(uow, approval.pool_id, lock=True)  # no posting slips in between check and submit
    drafting = _drafting(approval.kind)
    _require_decider(actor, uow, pool)
    _still_drafted(uow, approval)
    if actor.user_id == approval.drafted_by:
        raise PermissionDenied(
            f"you drafted this {drafting.what}, so you cannot approve it: another manager of the pool or an admin does"
        )
    changes = what_changed(uow, pool, approval)
    if changes:
        raise Stale(
            f"{pool.name} changed since this {drafting.what} was drafted: {'; '.join(changes)}. "
            "Nothing was posted: reject it, and draft it again"
        )
    preview = drafting.preview(uow, pool, approval.request)
    now = _comparable(_figures(drafting, preview))
    if now != _comparable(approval.figures):
        raise Stale(
            f"the {drafting.what}'s preview is not what was drafted any more. Nothing was posted: reject it, "
            "and draft it again"
        )
    approval.status = ApprovalStatus.APPROVED
    approval.decided_by = actor.user_id
    approval.decided_at = clock.now()
    uow.audit(
        actor.user_id,
        "approval.approve",
        "approval",
        approval.id,
        {"status": ApprovalStatus.DRAFTED},
        {"status": ApprovalStatus.APPROVED, "pool_id": pool.id, "kind": approval.kind},
    )
    # The posting's row is written in this transaction, with the approval: one commit for both.
    return submit(
        actor,
        uow,
        pool.id,
        approval.kind,
        {**approval.request, "approval_id": approval.id},
        idempotency_key=f"approval:{approval.id}",
        queue=uow.queue,
    )


def _decide(actor: Actor, uow: UnitOfWork, approval_id: int, reason: str, status: ApprovalStatus) -> None:
    approval = _locked(uow, approval_id)
    pool = load_pool(uow, approval.pool_id)
    drafting = _drafting(approval.kind)
    if status == ApprovalStatus.WITHDRAWN:
        if actor.user_id != approval.drafted_by:
            raise PermissionDenied(f"only the manager who drafted this {drafting.what} may withdraw it")
        require_manager_of(actor, uow, pool)
    else:
        _require_decider(actor, uow, pool)
        if actor.user_id == approval.drafted_by:
            raise PermissionDenied(f"you drafted this {drafting.what}: withdraw it instead")
    _still_drafted(uow, approval)
    why = clean_text(reason, "reason", max_length=500)
    approval.status = status
    approval.decided_by = actor.user_id
    approval.decided_at = clock.now()
    approval.reason = why
    uow.audit(
        actor.user_id,
        f"approval.{'reject' if status == ApprovalStatus.REJECTED else 'withdraw'}",
        "approval",
        approval.id,
        {"status": ApprovalStatus.DRAFTED},
        {"status": status, "reason": why, "pool_id": pool.id, "kind": approval.kind},
    )
    uow.commit()


@records_refusals("approval.reject", "approval")
def reject(actor: Actor, uow: UnitOfWork, approval_id: int, reason: str) -> None:
    """Another manager of the pool, or an admin, refuses a draft, saying why; nothing is posted."""
    _decide(actor, uow, approval_id, reason, ApprovalStatus.REJECTED)


@records_refusals("approval.withdraw", "approval")
def withdraw(actor: Actor, uow: UnitOfWork, approval_id: int, reason: str) -> None:
    """The manager who drafted it takes a draft back, saying why; nothing is posted."""
    _decide(actor, uow, approval_id, reason, ApprovalStatus.WITHDRAWN)


# --- what the pages list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A draft awaiting approval, with its preview exactly as drafted."""

    id: int
    kind: str
    preview: Any  # the kind's preview (DistributionPreview, CallPreview), rebuilt from the stored figures
    drafted_by: int
    drafted_by_name: str
    drafted_at: datetime
    mine: bool  # the actor drafted it: they may withdraw it, not approve it
    may_decide: bool  # the actor may approve or reject it
    changes: list[str]  # what moved in the pool since (approval will be refused while any)


@dataclass(frozen=True)
class Decided:
    id: int
    kind: str
    status: str
    total: Decimal
    drafted_by_name: str
    decided_by_name: str
    decided_at: datetime | None
    reason: str
    operation_id: Any


@dataclass(frozen=True)
class Approvals:
    waiting: list[Waiting]
    decided: list[Decided]  # the latest decisions, newest first


def _names(uow: UnitOfWork, rows: list[Approval]) -> dict[int, str]:
    """The names of those who drafted and decided these, in one query."""
    ids = {r.drafted_by for r in rows} | {r.decided_by for r in rows if r.decided_by}
    return {
        user_id: name
        for user_id, name in uow.session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    }


def _waiting(
    uow: UnitOfWork, actor: Actor, pool: Pool, row: Approval, names: dict[int, str], deciding: bool
) -> Waiting:
    return Waiting(
        row.id,
        row.kind,
        _drafting(row.kind).from_json(row.figures),
        row.drafted_by,
        names.get(row.drafted_by, "?"),
        row.drafted_at,
        row.drafted_by == actor.user_id,
        deciding and row.drafted_by != actor.user_id,
        what_changed(uow, pool, row),
    )


@dataclass(frozen=True)
class PoolWaiting:
    """A draft waiting somewhere on the platform, with its pool (an admin's list)."""

    pool_id: int
    pool_name: str
    currency: str
    waiting: Waiting


@audits_refused_reads
def waiting_everywhere(actor: Actor, uow: UnitOfWork) -> list[PoolWaiting]:
    """Every draft awaiting approval on the platform, oldest first: an admin approves where a pool has
    no second manager."""
    require_role(actor, ADMIN)
    rows = list(
        uow.session.execute(
            select(Approval).where(Approval.status == ApprovalStatus.DRAFTED).order_by(Approval.id)
        ).scalars()
    )
    names = _names(uow, rows)
    found: list[PoolWaiting] = []
    for row in rows:
        pool = load_pool(uow, row.pool_id)
        found.append(
            PoolWaiting(pool.id, pool.name, pool.currency, _waiting(uow, actor, pool, row, names, True))
        )
    return found


@audits_refused_reads
def approvals(actor: Actor, uow: UnitOfWork, pool_id: int, kind: str, *, decided: int = 10) -> Approvals:
    """The drafts of one kind waiting on a pool (oldest first) and its latest decisions."""
    drafting = _drafting(kind)
    pool = load_pool(uow, pool_id)
    if actor.role == FUND_MANAGER or not may_decide(uow, actor, pool):
        require_manager_of(actor, uow, pool)
    rows = uow.session.execute(
        select(Approval).where(Approval.pool_id == pool.id, Approval.kind == kind).order_by(Approval.id)
    ).scalars()
    all_rows = list(rows)
    names = _names(uow, all_rows)
    deciding = may_decide(uow, actor, pool)
    waiting = [
        _waiting(uow, actor, pool, r, names, deciding) for r in all_rows if r.status == ApprovalStatus.DRAFTED
    ]
    done = [
        Decided(
            r.id,
            r.kind,
            r.status,
            drafting.total(drafting.from_json(r.figures)),
            names.get(r.drafted_by, "?"),
            names.get(r.decided_by, "?") if r.decided_by else "",
            r.decided_at,
            r.reason,
            r.operation_id,
        )
        for r in sorted(
            (r for r in all_rows if r.status != ApprovalStatus.DRAFTED),
            key=lambda r: r.decided_at or r.drafted_at,
            reverse=True,
        )[:decided]
    ]
    return Approvals(waiting, done)
