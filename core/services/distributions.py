"""Distributions: proceeds paid out through the waterfall, to the investors and, as carry, to the GP.

plan() is the one computation for the manager's preview and for the posting, so they cannot differ;
the command carries the pool's version, and a pool that changed since the preview is refused.

A distribution is drafted by one manager and approved by another or an admin (core.services.approvals):
preview() is what both see; posting is refused unless it is exactly an approved draft.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import insert, text

from core import clock
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import Collector, InvalidState, Stale, ValidationError
from core.fundmath import DealExit, WaterfallTerms, allocate, carry_statement, waterfall
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount, quantize
from core.operations.kind import Kind, investors_slice
from core.permissions import Actor, require_manager_of
from core.services import approvals, notices
from core.services.audit import audits_refused_reads
from core.services.pools import load_pool, require_cash
from core.uow import UnitOfWork
from core.vocabulary import HurdleAccrual
from db.models import Distribution, Pool

KIND = "distribution"
ZERO = Decimal(0)
TIER_LABELS = {
    "return_of_capital": "Return of capital",
    "preferred_return": "Preferred return",
    "catch_up": "GP catch-up",
    "split": "Profit split",
}


@dataclass(frozen=True)
class Distribute:
    """The command: proceeds to distribute on a day, as previewed."""

    pool_id: int
    proceeds: Decimal
    distributed_on: date
    memo: str
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "proceeds": str(self.proceeds),
            "date": self.distributed_on.isoformat(),
            "memo": self.memo,
            "pool_version": self.pool_version,
        }


def check(uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> Distribute:
    """Every field of the request, all errors at once; whoever asks is checked by the caller."""
    require_running(pool.status, "a distribution")
    version = request.get("pool_version")
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since this distribution was previewed; preview it again")
    collect = Collector()
    with collect("date"):
        on = not_in_future(request_date(request, "date", clock.today()), "date")
        opened = pool.opened_at.date() if pool.opened_at else None
        if opened is not None and on < opened:
            raise ValidationError("date", f"must not be before the pool opened ({opened})")
    with collect("proceeds"):
        proceeds = parse_amount(request.get("proceeds"), pool.currency, "proceeds")
        if collect.ok("date"):
            require_cash(uow, pool, proceeds, "proceeds", on)
    with collect("memo"):
        memo = clean_text(request.get("memo", "") or "Distribution", "memo", max_length=200)
    collect.raise_any()
    return Distribute(pool.id, proceeds, on, memo, pool.version)


@dataclass(frozen=True)
class Plan:
    """Who gets what: each investor's share of the proceeds, split by the waterfall."""

    shares: dict[int, Decimal]
    lp: dict[int, Decimal]
    gp: dict[int, Decimal]
    tiers: dict[str, tuple[Decimal, Decimal]]
    paid_in: dict[int, Decimal]


def terms_of(pool: Pool) -> WaterfallTerms:
    """The pool's waterfall as distributions apply it: European (whole fund), its hurdle accrued as
    its terms say, its escrow; no GP commitment. The carry statement (core.views.manager) reads the
    same terms."""
    return WaterfallTerms(
        hurdle_rate=pool.hurdle_rate,
        catch_up_rate=pool.catch_up_rate,
        carry_rate=pool.carry_rate,
        hurdle_accrual=HurdleAccrual(pool.hurdle_accrual).value,
        escrow_rate=pool.escrow_rate,
    )


def escrow_step(uow: UnitOfWork, pool: Pool, carry: Decimal, upto: int | None) -> Decimal:
    """How much of `carry`, paid now, the pool holds in escrow: the escrow balance is escrow_rate x
    all the carry taken so far, rounded half up (core.fundmath.carry's rule), and this is its step."""
    if not pool.escrow_rate:
        return ZERO
    taken = read_model.total(uow.session, as_of=None, pool_id=pool.id, upto_journal=upto).carried_interest
    held = read_model.pool_books(uow.session, pool.id, as_of=None, upto_journal=upto).carry_in_escrow
    return max(quantize(pool.escrow_rate * (taken + carry), pool.currency, ROUND_HALF_UP) - held, ZERO)


def net_flows(flows: list[tuple[date, Decimal]]) -> list[tuple[date, Decimal]]:
    """Positive dated amounts, a reversal (negative) taken off the latest amounts before it."""
    kept: list[list[Any]] = []
    for day, amount in flows:
        if amount > 0:
            kept.append([day, amount])
            continue
        owed = -amount
        while owed > 0 and kept:
            taken = min(owed, kept[-1][1])
            kept[-1][1] -= taken
            owed -= taken
            if kept[-1][1] == 0:
                kept.pop()
    return [(day, amount) for day, amount in kept]


def plan(
    uow: UnitOfWork, pool: Pool, proceeds: Decimal, on: date, upto: int | None, only: list[int] | None = None
) -> Plan:
    """The whole-fund waterfall applied per investor on their own contributions and distributions
    (equivalent for one investor class), each investor's share of the proceeds pro rata to paid-in
    capital by that day. `only` limits the waterfall to one batch of investors."""
    lines = (Line.CONTRIBUTIONS, Line.DISTRIBUTIONS, Line.CARRIED_INTEREST)
    held = read_model.positions(uow.session, as_of=on, pool_id=pool.id, upto_journal=upto, lines=lines)
    weights = {i: p.contributions for i, p in sorted(held.items()) if p.contributions > 0}
    if not weights:
        raise InvalidState("nobody has paid in yet, so there is nothing to distribute to")
    shares = allocate(proceeds, weights, minor_unit(pool.currency))
    flows = read_model.dated(uow.session, pool_id=pool.id, lines=lines, as_of=on, upto_journal=upto)
    terms = terms_of(pool)
    lp: dict[int, Decimal] = {}
    gp: dict[int, Decimal] = {}
    tiers: dict[str, list[Decimal]] = {}
    for investor in shares if only is None else only:
        mine = flows.get(investor, {line: [] for line in lines})
        result = waterfall(
            terms,
            net_flows(mine[Line.CONTRIBUTIONS]),
            net_flows(mine[Line.DISTRIBUTIONS]),
            shares[investor],
            on,
            prior_gp_distributions=net_flows(mine[Line.CARRIED_INTEREST]),
            currency=pool.currency,
        )
        lp[investor], gp[investor] = result.lp_total, result.gp_total
        for tier in result.tiers:
            totals = tiers.setdefault(tier.name, [ZERO, ZERO])
            totals[0] += tier.lp
            totals[1] += tier.gp
    return Plan(shares, lp, gp, {name: (v[0], v[1]) for name, v in tiers.items()}, weights)


@dataclass(frozen=True)
class WoundUp:
    """One investor's carry if the pool were wound up on a day, distributed as plan() distributes."""

    proceeds: Decimal  # their share of the wind-up proceeds
    carry_received: Decimal  # the carried interest already taken from their distributions
    carry_due: Decimal  # the carry on their whole profit, the wind-up proceeds included


def wind_up(
    uow: UnitOfWork, pool: Pool, proceeds: Decimal, on: date, investors: Collection[int] | None = None
) -> dict[int, WoundUp]:
    """Per investor, the carry due if `proceeds` were the pool's last distribution on `on`: shared
    pro rata to paid-in capital and put through each investor's own whole-fund waterfall as plan()
    does (their contributions, then everything distributed to them before, distributions and carry
    together, then their share), capped at the carry rate of their profit
    (core.fundmath.carry.carry_statement, the European model, no escrow, no GP commitment).
    `investors` limits the waterfalls (not the sharing) to those investors."""
    lines = (Line.CONTRIBUTIONS, Line.DISTRIBUTIONS, Line.CARRIED_INTEREST)
    held = read_model.positions(uow.session, as_of=on, pool_id=pool.id, lines=lines)
    weights = {i: p.contributions for i, p in sorted(held.items()) if p.contributions > 0}
    if not weights:
        return {}
    shares = allocate(proceeds, weights, minor_unit(pool.currency))
    one = next(iter(investors)) if investors is not None and len(investors) == 1 else None
    flows = read_model.dated(uow.session, pool_id=pool.id, lines=lines, as_of=on, investor_id=one)
    terms = terms_of(pool)
    result = {}
    for investor, share in shares.items():
        if investors is not None and investor not in investors:
            continue
        mine = flows.get(investor, {line: [] for line in lines})
        out: dict[date, Decimal] = {}
        for day, amount in (*mine[Line.DISTRIBUTIONS], *mine[Line.CARRIED_INTEREST]):
            out[day] = out.get(day, ZERO) + amount
        exits = [DealExit("pool", day, amount) for day, amount in net_flows(sorted(out.items()))]
        statement = carry_statement(
            terms,
            {"pool": net_flows(mine[Line.CONTRIBUTIONS])},
            exits,
            {"pool": share},
            on,
            currency=pool.currency,
        )
        result[investor] = WoundUp(share, held[investor].carried_interest, statement.carry_due)
    return result


@dataclass(frozen=True)
class TierRow:
    tier: str
    label: str
    lp: Decimal
    gp: Decimal

    @property
    def total(self) -> Decimal:
        return self.lp + self.gp


@dataclass(frozen=True)
class DistributionLine:
    investor_id: int
    investor_name: str
    paid_in: Decimal
    share: Decimal
    lp: Decimal
    gp: Decimal


@dataclass(frozen=True)
class DistributionPreview:
    pool_name: str
    currency: str
    cash: Decimal
    tiers: list[TierRow]
    lines: list[DistributionLine]
    command: Distribute
    escrow: Decimal = ZERO  # the part of the carry the pool holds in escrow

    @property
    def proceeds(self) -> Decimal:
        return self.command.proceeds

    @property
    def lp_total(self) -> Decimal:
        return sum((line.lp for line in self.lines), ZERO)

    @property
    def gp_total(self) -> Decimal:
        return sum((line.gp for line in self.lines), ZERO)


@audits_refused_reads
def preview(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> DistributionPreview:
    """The waterfall per tier and per investor for proposed proceeds, checked as posting checks it."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    return _preview(uow, pool, request)


def _preview(uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> DistributionPreview:
    command = check(uow, pool, request)
    split = plan(uow, pool, command.proceeds, command.distributed_on, None)
    names: dict[int, str] = dict(
        uow.session.execute(
            text("SELECT id, name FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": list(split.shares)},
        ).all()
    )
    lines = [
        DistributionLine(i, names.get(i, "?"), split.paid_in[i], share, split.lp[i], split.gp[i])
        for i, share in split.shares.items()
    ]
    tiers = [
        TierRow(name, label, *split.tiers.get(name, (ZERO, ZERO))) for name, label in TIER_LABELS.items()
    ]
    books = read_model.pool_books(uow.session, pool.id, as_of=None)
    gp = sum(split.gp.values(), ZERO)
    return DistributionPreview(
        pool.name, pool.currency, books.free_cash, tiers, lines, command, escrow_step(uow, pool, gp, None)
    )


def _to_json(preview: DistributionPreview) -> dict[str, Any]:
    """The preview as stored with a draft (amounts as exact text), for the approver to see as drafted."""
    return {
        "pool_name": preview.pool_name,
        "currency": preview.currency,
        "cash": str(preview.cash),
        "tiers": [[t.tier, t.label, str(t.lp), str(t.gp)] for t in preview.tiers],
        "lines": [[x.investor_id, str(x.paid_in), str(x.share), str(x.lp), str(x.gp)] for x in preview.lines],
        "names": {str(x.investor_id): x.investor_name for x in preview.lines},
        "command": {"pool_id": preview.command.pool_id, **preview.command.payload()},
        "escrow": str(preview.escrow),
    }


def _from_json(figures: dict[str, Any]) -> DistributionPreview:
    c = figures["command"]
    command = Distribute(
        c["pool_id"], Decimal(c["proceeds"]), date.fromisoformat(c["date"]), c["memo"], c["pool_version"]
    )
    names = figures["names"]
    return DistributionPreview(
        figures["pool_name"],
        figures["currency"],
        Decimal(figures["cash"]),
        [TierRow(tier, label, Decimal(lp), Decimal(gp)) for tier, label, lp, gp in figures["tiers"]],
        [
            DistributionLine(
                i, names.get(str(i), "?"), Decimal(paid), Decimal(share), Decimal(lp), Decimal(gp)
            )
            for i, paid, share, lp, gp in figures["lines"]
        ],
        command,
        Decimal(figures.get("escrow", "0")),
    )


def _amounts(figures: dict[str, Any]) -> dict[int, tuple[Decimal, ...]]:
    """Each investor's distribution and carry, as the approved preview has them."""
    return {int(i): (Decimal(lp), Decimal(gp)) for i, _, _, lp, gp in figures["lines"]}


approvals.register(
    approvals.Drafting(
        kind=KIND,
        what="distribution",
        preview=_preview,
        to_json=_to_json,
        from_json=_from_json,
        total=lambda preview: preview.proceeds,
        amounts=_amounts,
        always=True,
    )
)


class DistributeProceeds(Kind):
    name = KIND

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        approvals.may_post(uow, actor, pool, KIND, payload)
        command = check(uow, pool, payload)
        approvals.approved_if_needed(pool, KIND, payload, command.proceeds, actor)
        upto = read_model.last_journal(uow.session, pool.id)
        split = plan(uow, pool, command.proceeds, command.distributed_on, upto)
        approved = {"approval_id": payload["approval_id"]} if "approval_id" in payload else {}
        return {**command.payload(), **approved, "upto_journal": upto}, len(split.shares)

    def on_submit(self, uow, pool, operation_id, clean):  # noqa: ANN001, ANN201
        approvals.submitted(uow, operation_id, clean)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        p = op.payload
        approvals.may_post(uow, actor, pool, KIND, p, op.id)
        on, proceeds = date.fromisoformat(p["date"]), Decimal(p["proceeds"])
        if op.progress_done == 0:
            require_cash(uow, pool, proceeds, "proceeds", None)
            approvals.approved_if_needed(pool, KIND, p, proceeds, actor)
            whole = plan(uow, pool, proceeds, on, p["upto_journal"])
            approvals.as_approved(uow, p, KIND, {i: (whole.lp[i], whole.gp[i]) for i in whole.shares})
            uow.session.execute(
                insert(Distribution),
                [
                    {
                        "pool_id": pool.id,
                        "proceeds": proceeds,
                        "lp_total": sum(whole.lp.values(), ZERO),
                        "gp_total": sum(whole.gp.values(), ZERO),
                        "distributed_on": on,
                        "memo": p["memo"],
                        "operation_id": op.id,
                    }
                ],
            )
        held = read_model.positions(
            uow.session,
            as_of=on,
            pool_id=pool.id,
            upto_journal=p["upto_journal"],
            lines=(Line.CONTRIBUTIONS,),
        )
        batch = investors_slice({i: x for i, x in held.items() if x.contributions > 0}, op.progress_done)
        split = plan(uow, pool, proceeds, on, p["upto_journal"], only=batch)
        for kind, amounts, memo in (
            (JournalKind.DISTRIBUTION, split.lp, p["memo"]),
            (JournalKind.CARRY, split.gp, f"Carried interest: {p['memo']}"),
        ):
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
                        ledger.credit(Account.CASH, sum((a for _, a in rows), ZERO)),
                    ],
                    memo=memo,
                    actor_id=actor.user_id,
                    operation_id=op.id,
                )
        return op.progress_done + len(batch)

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        held = escrow_step(uow, pool, ZERO, None)  # the carry just posted is in the ledger's line now
        if held:
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind=JournalKind.CARRY,
                idempotency_key=f"op:{op.id}:escrow",
                effective_date=date.fromisoformat(op.payload["date"]),
                lines=[ledger.debit(Account.CASH, held), ledger.credit(Account.CARRY_ESCROW, held)],
                memo=f"Carried interest held in escrow: {op.payload['memo']}",
                actor_id=op.actor_id,
                operation_id=op.id,
            )
        notices.distribution_posted(uow, op, pool)  # the outbox, in the last batch's transaction
        return {"proceeds": op.payload["proceeds"]}
