"""Distributions: proceeds split by the waterfall between the investors and the GP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core import clock, positions
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import InvalidState, ValidationError
from core.fundmath import WaterfallTerms, allocate, waterfall
from core.ledger import Account
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount
from core.operations.kind import Kind, investors_slice
from core.permissions import require_pool_manager
from core.uow import UnitOfWork
from db.models import Pool


@dataclass(frozen=True)
class DistributionPlan:
    """Who gets what: each investor's share of the proceeds, split by the waterfall."""

    shares: dict[int, Decimal]
    lp: dict[int, Decimal]
    gp: dict[int, Decimal]
    tiers: dict[str, tuple[Decimal, Decimal]]


def plan_distribution(
    uow: UnitOfWork, pool: Pool, proceeds: Decimal, on: date, upto: int, only: list[int] | None = None
) -> DistributionPlan:
    """The same computation for the manager's preview and for the posting, so they cannot differ.

    The whole-fund waterfall is applied per investor on their own contributions and distributions
    (equivalent for one investor class), each investor's share of the proceeds being pro rata to
    paid-in capital. `only` limits the waterfall to one batch of investors.
    """
    held = positions.investor_positions(uow.session, pool.id, upto_journal=upto)
    weights = {i: p.paid_in for i, p in sorted(held.items()) if p.paid_in > 0}
    if not weights:
        raise InvalidState("nobody has paid in yet, so there is nothing to distribute to")
    shares = allocate(proceeds, weights, minor_unit(pool.currency))
    flows = positions.dated_capital_flows(uow.session, pool.id, upto)
    terms = WaterfallTerms(
        hurdle_rate=pool.hurdle_rate, catch_up_rate=pool.catch_up_rate, carry_rate=pool.carry_rate
    )
    lp: dict[int, Decimal] = {}
    gp: dict[int, Decimal] = {}
    tiers: dict[str, list[Decimal]] = {}
    for investor in shares if only is None else only:
        share = shares[investor]
        mine = flows.get(investor, {"payment": [], "distribution": [], "carry": []})
        result = waterfall(
            terms,
            mine["payment"],
            mine["distribution"],
            share,
            on,
            prior_gp_distributions=mine["carry"],
            currency=pool.currency,
        )
        lp[investor], gp[investor] = result.lp_total, result.gp_total
        for tier in result.tiers:
            totals = tiers.setdefault(tier.name, [Decimal(0), Decimal(0)])
            totals[0] += tier.lp
            totals[1] += tier.gp
    return DistributionPlan(shares, lp, gp, {name: (v[0], v[1]) for name, v in tiers.items()})


class DistributeProceeds(Kind):
    name = "distribution"

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        require_running(pool.status, "a distribution")
        proceeds = parse_amount(payload.get("proceeds"), pool.currency, "proceeds")
        cash = positions.pool_books(uow.session, pool.id).cash
        if proceeds > cash:
            raise ValidationError(
                "proceeds", f"{proceeds:,} is more than the pool's cash of {cash:,} {pool.currency}"
            )
        on = not_in_future(request_date(payload, "date", clock.today()), "date")
        upto = positions.last_journal(uow.session, pool.id)
        plan = plan_distribution(uow, pool, proceeds, on, upto)
        memo = clean_text(payload.get("memo", "") or "distribution", "memo", max_length=200)
        return {"proceeds": str(proceeds), "date": on.isoformat(), "memo": memo, "upto_journal": upto}, len(
            plan.shares
        )

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_pool_manager(actor, pool.manager_id)
        p = op.payload
        on = date.fromisoformat(p["date"])
        if op.progress_done == 0:
            cash = positions.pool_books(uow.session, pool.id).cash
            if Decimal(p["proceeds"]) > cash:
                raise ValidationError("proceeds", f"is more than the pool's cash of {cash:,} {pool.currency}")
        held = positions.investor_positions(uow.session, pool.id, upto_journal=p["upto_journal"])
        batch = investors_slice({i: x for i, x in held.items() if x.paid_in > 0}, op.progress_done)
        plan = plan_distribution(uow, pool, Decimal(p["proceeds"]), on, p["upto_journal"], only=batch)
        for kind, amounts in (("distribution", plan.lp), ("carry", plan.gp)):
            rows = [(i, amounts[i]) for i in batch if amounts[i] > 0]
            if rows:
                ledger.post(
                    uow.session,
                    pool_id=pool.id,
                    currency=pool.currency,
                    kind=kind,
                    idempotency_key=f"op:{op.id}:{kind}:{op.progress_done}",
                    effective_date=on,
                    lines=[
                        *ledger.legs(ledger.DEBIT, Account.CAPITAL, rows),
                        ledger.credit("cash", sum((a for _, a in rows), Decimal(0))),
                    ],
                    memo=p["memo"] if kind == "distribution" else f"carried interest: {p['memo']}",
                    actor_id=actor.user_id,
                    operation_id=op.id,
                )
        return op.progress_done + len(batch)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"proceeds": op.payload["proceeds"]}
