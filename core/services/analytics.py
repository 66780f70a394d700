"""Pool analytics and investor portfolio summaries: computed from the ledger, cached by version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from core import positions
from core.cache import from_fields
from core.errors import PermissionDenied, ValidationError
from core.permissions import INVESTOR, Actor, require_read_investor_position
from core.services.audit import audits_refused_reads
from core.services.pools import fundraising, visible_pool
from core.uow import UnitOfWork
from db.models import Pool


@dataclass(frozen=True)
class PoolAnalytics:
    pool_id: int
    currency: str
    version: int
    target_size: Decimal
    hard_cap: Decimal
    committed: Decimal
    pending: Decimal
    investors: int
    called: Decimal
    paid_in: Decimal
    outstanding: Decimal
    distributed: Decimal
    carry: Decimal
    fees: Decimal
    nav: Decimal
    cash: Decimal
    investments: Decimal
    unrealized: Decimal

    @property
    def fundraising_progress(self) -> float:
        """For a progress bar only."""
        return float(self.committed / self.target_size) if self.target_size else 0.0  # float-ok: a bar


@audits_refused_reads
def pool_analytics(actor: Actor, uow: UnitOfWork, pool_id: int) -> PoolAnalytics:
    """The pool's headline figures, as of its current ledger version."""
    pool = visible_pool(uow, actor, pool_id)

    def compute() -> PoolAnalytics:
        total = positions.pool_total(uow.session, pool.id)
        books = positions.pool_books(uow.session, pool.id)
        raising = fundraising(actor, uow, pool.id)
        return PoolAnalytics(
            pool.id,
            pool.currency,
            pool.version,
            pool.target_size,
            pool.hard_cap,
            raising.accepted,
            raising.pending,
            raising.investors,
            total.called,
            total.paid_in,
            total.outstanding,
            total.distributed,
            total.carry,
            total.fees,
            total.nav,
            books.cash,
            books.investments,
            books.unrealized,
        )

    return uow.cache.cached(f"analytics:pool:{pool.id}:v{pool.version}", compute, from_fields(PoolAnalytics))


@dataclass(frozen=True)
class Holding:
    pool_id: int
    pool_name: str
    strategy: str
    status: str
    currency: str
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    unfunded: Decimal
    outstanding: Decimal
    distributed: Decimal
    fees: Decimal
    nav: Decimal


@audits_refused_reads
def portfolio(actor: Actor, uow: UnitOfWork, investor_id: int | None = None) -> list[Holding]:
    """One investor's position in every pool, cached under the versions of exactly those pools."""
    investor_id = actor.user_id if investor_id is None and actor.role == INVESTOR else investor_id
    if investor_id is None:
        raise ValidationError("investor_id", "is required")
    if actor.role == INVESTOR and investor_id != actor.user_id:
        raise PermissionDenied("you may only see your own investments")
    pools_of = uow.session.execute(
        select(Pool.id, Pool.name, Pool.strategy, Pool.status, Pool.currency, Pool.version, Pool.manager_id)
        .where(Pool.id.in_(positions.pools_of_investor(uow.session, investor_id)))
        .order_by(Pool.id)
    ).all()
    if actor.role != INVESTOR or actor.user_id != investor_id:
        for row in pools_of:
            require_read_investor_position(actor, investor_id, row.manager_id)
    versions = ",".join(f"{row.id}:{row.version}" for row in pools_of)
    key = f"analytics:portfolio:{investor_id}:{hashlib.sha1(versions.encode()).hexdigest()}"  # noqa: S324

    def compute() -> list[dict]:
        held = positions.positions_of_investor(uow.session, investor_id)
        return [
            {
                "pool_id": row.id,
                "pool_name": row.name,
                "strategy": row.strategy,
                "status": row.status,
                "currency": row.currency,
                "committed": p.committed,
                "called": p.called,
                "paid_in": p.paid_in,
                "unfunded": p.unfunded,
                "outstanding": p.outstanding,
                "distributed": p.distributed,
                "fees": p.fees,
                "nav": p.nav,
            }
            for row in pools_of
            if (p := held.get(row.id)) is not None
        ]

    rows = uow.cache.cached(key, compute, lambda data: data)
    return [Holding(**row) for row in rows]
