"""Posting to the books on behalf of a person: only the pool's manager moves a pool's money."""

from __future__ import annotations

from datetime import date

from core.errors import InvalidState
from core.ledger import posting as ledger
from core.permissions import Actor, require_pool_manager
from core.services.audit import records_refusals
from core.services.pools import load_pool
from core.uow import UnitOfWork
from db.models import Journal


@records_refusals("ledger.post", "pool")
def post_journal(
    actor: Actor,
    uow: UnitOfWork,
    pool_id: int,
    *,
    kind: str,
    idempotency_key: str,
    effective_date: date,
    lines: list[ledger.Leg],
    memo: str = "",
) -> int:
    """Post once per idempotency key; a repeat returns the first journal's id and writes nothing."""
    pool = load_pool(uow, pool_id)
    require_pool_manager(actor, pool.manager_id)
    if pool.status == "draft":
        raise InvalidState("a draft pool has no books yet")
    journal_id, new = ledger.post(
        uow.session,
        pool_id=pool.id,
        currency=pool.currency,
        kind=kind,
        idempotency_key=idempotency_key,
        effective_date=effective_date,
        lines=lines,
        memo=memo,
        actor_id=actor.user_id,
    )
    if new:
        uow.audit(
            actor.user_id, "ledger.post", "journal", journal_id, after={"kind": kind, "key": idempotency_key}
        )
    uow.commit()
    return journal_id


@records_refusals("ledger.reverse", "journal")
def reverse_journal(
    actor: Actor, uow: UnitOfWork, journal_id: int, *, memo: str, effective_date: date
) -> int:
    journal = uow.session.get(Journal, journal_id)
    if journal is None or journal.pool_id is None:
        raise InvalidState(f"no journal {journal_id}")
    require_pool_manager(actor, load_pool(uow, journal.pool_id).manager_id)
    reversal_id, new = ledger.reverse(
        uow.session,
        journal_id,
        idempotency_key=f"reversal:{journal_id}",
        effective_date=effective_date,
        memo=memo,
        actor_id=actor.user_id,
    )
    if new:
        uow.audit(actor.user_id, "ledger.reverse", "journal", journal_id, after={"reversal": reversal_id})
    uow.commit()
    return reversal_id
