"""Distributions: proceeds paid out through the waterfall, to the investors and, as carry, to the GP.

plan() is the one computation for the manager's preview and for the posting, so they cannot differ;
the command carries the pool's version, and a pool that changed since the preview is refused.

A whole-fund (European) pool's distribution goes through the waterfall on everything each investor
has paid in and received. A deal-by-deal (American) pool's distribution names its deal (a company
the pool has exited) and pays out at most what that deal returned and was not yet distributed: it
goes through the waterfall on that deal's capital alone (each investment in it, shared by the
investors as its proceeds are) and that deal's earlier distributions, so carry is paid deal by
deal. One that names no deal returns capital the pool never invested (the cash no deal's
distribution is waiting for), to the investors, without carry. What the whole fund's profit does not support comes back at wind-down
(core.services.winddown: the clawback is carry received above the whole-fund carry due).

A distribution is drafted by one manager and approved by another or an admin (core.services.approvals):
preview() is what both see; posting is refused unless it is exactly an approved draft.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select, text

from core import clock
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import Collector, InvalidState, Stale, ValidationError
from core.formatting import money
from core.fundmath import (
    DealExit,
    WaterfallResult,
    WaterfallTerms,
    allocate,
    carry_statement,
    run_waterfall,
    waterfall,
)
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount, quantize
from core.operations.kind import Kind, investors_slice
from core.permissions import Actor, require_manager_of
from core.services import approvals, notices
from core.services.audit import audits_refused_reads
from core.services.investments import holdings
from core.services.pools import gp_investors, gp_named, load_pool, require_cash
from core.uow import UnitOfWork
from core.vocabulary import HurdleAccrual, WaterfallModel
from db.models import Distribution, Exit, Investment, Journal, Pool, PortfolioCompany

KIND = "distribution"
ZERO = Decimal(0)
NO_DEAL = 0  # a deal-by-deal distribution that names no deal: uninvested capital, returned
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
    deal: int | None = None  # a deal-by-deal pool's: the company whose proceeds these are, or NO_DEAL

    @property
    def company(self) -> int | None:
        """The deal whose waterfall applies; None: the whole fund's, or uninvested capital."""
        return None if self.deal == NO_DEAL else self.deal

    def payload(self) -> dict[str, Any]:
        return {
            "proceeds": str(self.proceeds),
            "date": self.distributed_on.isoformat(),
            "memo": self.memo,
            "pool_version": self.pool_version,
            **({} if self.deal is None else {"deal": self.deal}),
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
    deal = None
    with collect("deal"):
        deal = _deal(uow, pool, request.get("deal"))
    with collect("proceeds"):
        proceeds = parse_amount(request.get("proceeds"), pool.currency, "proceeds")
        if collect.ok("date"):
            require_cash(uow, pool, proceeds, "proceeds", on)
        if deal is not None and collect.ok("date"):
            left = undistributed(uow, pool, deal, on)
            if proceeds > left:
                raise ValidationError(
                    "proceeds",
                    f"{money(proceeds, pool.currency)} is more than this deal's exit proceeds not yet "
                    f"distributed, {money(left, pool.currency)}",
                    limit=left,
                )
        elif _by_deal(pool) and collect.ok("date") and collect.ok("deal"):
            left = uninvested(uow, pool, on)
            if proceeds > left:
                raise ValidationError(
                    "proceeds",
                    f"{money(proceeds, pool.currency)} is more than the capital the pool has not invested, "
                    f"{money(left, pool.currency)}: the rest of its cash is deals' exit proceeds, "
                    "distributed by naming the deal",
                    limit=left,
                )
    with collect("memo"):
        memo = clean_text(request.get("memo", "") or "Distribution", "memo", max_length=200)
    collect.raise_any()
    choice = request.get("deal") if _by_deal(pool) and deal is None else deal  # NO_DEAL is kept as chosen
    return Distribute(pool.id, proceeds, on, memo, pool.version, None if choice is None else int(choice))


def _by_deal(pool: Pool) -> bool:
    return pool.waterfall_model == WaterfallModel.DEAL_BY_DEAL


def _deal(uow: UnitOfWork, pool: Pool, raw: object) -> int | None:
    """The deal a distribution names. A deal-by-deal pool's names one, or NO_DEAL for uninvested
    capital (None); a whole-fund pool's names none."""
    if isinstance(raw, bool) or not isinstance(raw, int | str | None):
        raise ValidationError("deal", "must be one of the pool's companies")
    if raw is None or raw == "":
        if _by_deal(pool):
            raise ValidationError(
                "deal", "choose the deal whose exit proceeds this distributes, or the uninvested capital"
            )
        return None
    if raw == NO_DEAL and _by_deal(pool):
        return None
    if not _by_deal(pool):
        raise ValidationError("deal", "this pool pays carry on the whole fund: a distribution names no deal")
    if not str(raw).isdigit():
        raise ValidationError("deal", "must be one of the pool's companies")
    deal = int(raw)
    found = uow.session.execute(
        select(PortfolioCompany.id).where(PortfolioCompany.id == deal, PortfolioCompany.pool_id == pool.id)
    ).scalar_one_or_none()
    if found is None:
        raise ValidationError("deal", "must be one of the pool's companies")
    return deal


def _live(model: Any, day: Any, on: date) -> Any:
    """A fact of `model` on or before `on` and not reversed by then (the holdings' rule)."""
    return (day <= on) & or_(model.reversed_on.is_(None), model.reversed_on > on)


def _counted(pool: Pool, on: date, upto: int | None) -> Any:
    """The pool's distributions that count on `on`; with `upto`, only those posted by that journal
    (a distribution being posted is not one of its own earlier ones)."""
    counted = (Distribution.pool_id == pool.id) & _live(Distribution, Distribution.distributed_on, on)
    if upto is None:
        return counted
    posted = select(Journal.operation_id).where(Journal.pool_id == pool.id, Journal.id <= upto)
    return counted & Distribution.operation_id.in_(posted)


def undistributed(uow: UnitOfWork, pool: Pool, deal: int, on: date, upto: int | None = None) -> Decimal:
    """What the deal's exits returned by `on` less what its distributions paid out (carry included)."""
    returned = uow.session.execute(
        select(func.coalesce(func.sum(Exit.proceeds), 0)).where(
            Exit.pool_id == pool.id, Exit.company_id == deal, _live(Exit, Exit.exited_on, on)
        )
    ).scalar_one()
    paid = uow.session.execute(
        select(func.coalesce(func.sum(Distribution.proceeds), 0)).where(
            _counted(pool, on, upto), Distribution.company_id == deal
        )
    ).scalar_one()
    return Decimal(returned) - Decimal(paid)


@dataclass(frozen=True)
class Deal:
    """What a deal-by-deal pool can distribute: an exited deal's proceeds not yet distributed, or
    (id NO_DEAL) the capital it has not invested."""

    id: int  # the company's
    name: str
    undistributed: Decimal


@audits_refused_reads
def deals(actor: Actor, uow: UnitOfWork, pool_id: int) -> list[Deal]:
    """What a deal-by-deal pool can distribute today: its deals with exit proceeds not yet
    distributed, by name, then its uninvested capital; those with nothing left are left out.
    None for a whole-fund pool."""
    pool = load_pool(uow, pool_id)
    require_manager_of(actor, uow, pool)
    if not _by_deal(pool):
        return []
    on = clock.today()
    exited = _exited(uow, pool, on)
    choices = [
        *exited,
        Deal(NO_DEAL, "Uninvested capital", quantize(uninvested(uow, pool, on, exited), pool.currency)),
    ]
    return [deal for deal in choices if deal.undistributed > 0]


def _exited(uow: UnitOfWork, pool: Pool, on: date) -> list[Deal]:
    rows = uow.session.execute(
        select(PortfolioCompany.id, PortfolioCompany.name)
        .where(PortfolioCompany.id.in_(select(Exit.company_id).where(Exit.pool_id == pool.id)))
        .order_by(PortfolioCompany.name)
    ).all()
    return [
        Deal(deal, name, quantize(undistributed(uow, pool, deal, on), pool.currency)) for deal, name in rows
    ]


def uninvested(uow: UnitOfWork, pool: Pool, on: date, exited: list[Deal] | None = None) -> Decimal:
    """A deal-by-deal pool's spendable cash that no deal's distribution is waiting for."""
    waiting = _exited(uow, pool, on) if exited is None else exited
    owed = sum((deal.undistributed for deal in waiting), ZERO)
    return max(read_model.spendable_cash(uow.session, pool.id, on) - owed, ZERO)


@dataclass(frozen=True)
class Plan:
    """Who gets what: each investor's share of the proceeds, split by the waterfall."""

    shares: dict[int, Decimal]
    lp: dict[int, Decimal]
    gp: dict[int, Decimal]
    tiers: dict[str, tuple[Decimal, Decimal]]
    paid_in: dict[int, Decimal]


def terms_of(pool: Pool, gp: bool = False) -> WaterfallTerms:
    """The pool's waterfall as distributions apply it to one investor: its hurdle accrued as its terms
    say, its escrow; the GP's own commitment (gp) carries nothing, so its share of the proceeds is all
    its own. The carry statement (core.views.manager) reads the same terms through wind_up()."""
    return WaterfallTerms(
        hurdle_rate=pool.hurdle_rate,
        catch_up_rate=ZERO if gp else pool.catch_up_rate,
        carry_rate=ZERO if gp else pool.carry_rate,
        model="american" if _by_deal(pool) else "european",
        recover_prior_losses=pool.recover_prior_losses,
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


def deal_contributions(
    uow: UnitOfWork, pool: Pool, on: date, upto: int | None
) -> dict[int, dict[int, list[tuple[date, Decimal]]]]:
    """Per deal, each investor's part of the capital put into it, on each investment's day: shared pro
    rata to what they have paid in by `on`, as the deals' gains were booked to them and as proceeds
    are shared, so a capital account and its distributions never part ways."""
    bought = uow.session.execute(
        select(Investment.company_id, Investment.invested_on, Investment.amount)
        .where(Investment.pool_id == pool.id, _live(Investment, Investment.invested_on, on))
        .order_by(Investment.invested_on, Investment.id)
    ).all()
    paid = _paid_in(uow, pool, on, upto)
    parts: dict[int, dict[int, list[tuple[date, Decimal]]]] = {}
    for deal, day, amount in bought:
        mine = parts.setdefault(deal, {})
        for investor, part in allocate(amount, paid, minor_unit(pool.currency)).items():
            if part:
                mine.setdefault(investor, []).append((day, part))
    return parts


def _paid_in(uow: UnitOfWork, pool: Pool, on: date, upto: int | None) -> dict[int, Decimal]:
    held = read_model.positions(
        uow.session, as_of=on, pool_id=pool.id, upto_journal=upto, lines=(Line.CONTRIBUTIONS,)
    )
    weights = {i: p.contributions for i, p in sorted(held.items()) if p.contributions > 0}
    if not weights:
        raise InvalidState("nobody has paid in yet, so there is nothing to distribute to")
    return weights


def weights(uow: UnitOfWork, pool: Pool, on: date, upto: int | None, deal: int | None) -> dict[int, Decimal]:
    """What the proceeds are shared by: each investor's paid-in capital, or their capital in the deal."""
    if deal is None:
        return _paid_in(uow, pool, on, upto)
    return _in_deal(deal_contributions(uow, pool, on, upto), deal)


def _in_deal(put_in: dict[int, dict[int, list[tuple[date, Decimal]]]], deal: int) -> dict[int, Decimal]:
    return {i: sum((a for _, a in flows), ZERO) for i, flows in sorted(put_in.get(deal, {}).items())}


def plan(
    uow: UnitOfWork,
    pool: Pool,
    proceeds: Decimal,
    on: date,
    upto: int | None,
    only: list[int] | None = None,
    deal: int | None = None,
) -> Plan:
    """The waterfall applied per investor (equivalent for one investor class), each investor's share
    of the proceeds pro rata to `weights`: the whole fund's on their own contributions and
    distributions, or one deal's (_by_deal_split). `only` limits the waterfall to one batch of
    investors."""
    lines = (Line.CONTRIBUTIONS, Line.DISTRIBUTIONS, Line.CARRIED_INTEREST)
    put_in = deal_contributions(uow, pool, on, upto) if deal is not None else {}
    paid = _paid_in(uow, pool, on, upto) if deal is None else _in_deal(put_in, deal)
    if not paid:
        raise InvalidState("no investor has capital in this deal, so there is nothing to distribute to")
    shares = allocate(proceeds, paid, minor_unit(pool.currency))
    batch = list(shares) if only is None else only
    if deal is None and _by_deal(pool):  # uninvested capital: returned, no deal, no carry
        back = sum((shares[i] for i in batch), ZERO)
        return Plan(
            shares,
            {i: shares[i] for i in batch},
            dict.fromkeys(batch, ZERO),
            {"return_of_capital": (back, ZERO)},
            paid,
        )
    if deal is not None:
        results = _by_deal_split(uow, pool, proceeds, on, upto, deal, {i: shares[i] for i in batch}, put_in)
    else:
        flows = read_model.dated(uow.session, pool_id=pool.id, lines=lines, as_of=on, upto_journal=upto)
        gp_own = gp_investors(uow, pool.id)
        results = {}
        for investor in batch:
            mine: dict[Line, list[tuple[date, Decimal]]] = {line: [] for line in lines} | flows.get(
                investor, {}
            )
            results[investor] = waterfall(
                terms_of(pool, investor in gp_own),
                net_flows(mine[Line.CONTRIBUTIONS]),
                net_flows(mine[Line.DISTRIBUTIONS]),
                shares[investor],
                on,
                prior_gp_distributions=net_flows(mine[Line.CARRIED_INTEREST]),
                currency=pool.currency,
            )
    tiers: dict[str, list[Decimal]] = {}
    for result in results.values():
        for tier in result.tiers:
            totals = tiers.setdefault(tier.name, [ZERO, ZERO])
            totals[0] += tier.lp
            totals[1] += tier.gp
    return Plan(
        shares,
        {i: r.lp_total for i, r in results.items()},
        {i: r.gp_total for i, r in results.items()},
        {name: (v[0], v[1]) for name, v in tiers.items()},
        paid,
    )


def _by_deal_split(
    uow: UnitOfWork,
    pool: Pool,
    proceeds: Decimal,
    on: date,
    upto: int | None,
    deal: int,
    shares: dict[int, Decimal],
    put_in: dict[int, dict[int, list[tuple[date, Decimal]]]],
) -> dict[int, WaterfallResult]:
    """Each investor's share of a deal's proceeds through the deal-by-deal waterfall
    (core.fundmath.run_waterfall, the American model): every deal's capital, every earlier deal
    distribution (what it paid that investor, carry included) and every write-off, in date order,
    then this one last. A deal's exit is final once the deal is sold in full and its proceeds are all
    distributed, so, where the pool's terms say so, the capital it lost comes back first in the next
    deal to exit."""
    sold = {
        h.company_id: h.exited_on for h in holdings(uow, pool.id, as_of=on) if h.cost == 0 and h.exited_on
    }
    left = {company: undistributed(uow, pool, company, on, upto) for company in sold}
    past = uow.session.execute(
        select(Distribution.operation_id, Distribution.company_id, Distribution.distributed_on)
        .where(_counted(pool, on, upto), Distribution.company_id.is_not(None))
        .order_by(Distribution.distributed_on, Distribution.id)
    ).all()
    last = {company: operation for operation, company, _ in past}
    m = read_model.movements(
        as_of=on,
        pool_id=pool.id,
        lines=(Line.DISTRIBUTIONS, Line.CARRIED_INTEREST),
        upto_journal=upto,
        operations=[operation for operation, _, _ in past],
    )
    paid_out = {
        (investor, operation): amount
        for investor, operation, amount in uow.session.execute(
            select(m.c.investor_id, Journal.operation_id, func.sum(m.c.amount))
            .join(Journal, Journal.id == m.c.journal_id)
            .group_by(m.c.investor_id, Journal.operation_id)
        ).all()
    }
    written_off = [
        DealExit(company, day, ZERO, True)
        for company, day in sold.items()
        if company not in last and left[company] == 0
    ]
    final_now = deal in sold and proceeds == left.get(deal)
    gp_own = gp_investors(uow, pool.id)
    results = {}
    for investor, share in shares.items():
        exits = [
            DealExit(
                company,
                day,
                paid_out.get((investor, operation), ZERO),
                company in sold and last[company] == operation and left[company] == 0,
            )
            for operation, company, day in past
        ]
        run = run_waterfall(
            terms_of(pool, investor in gp_own),
            {company: parts.get(investor, []) for company, parts in put_in.items()},
            [*exits, *written_off, DealExit(deal, on, share, final_now)],
            currency=pool.currency,
        )
        results[investor] = run.distributions[-1].waterfall
    return results


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
    gp_own = gp_investors(uow, pool.id)
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
            replace(terms_of(pool, investor in gp_own), model="european", recover_prior_losses=False),
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
    deal_name: str | None = None  # the deal whose proceeds these are (deal-by-deal pools)
    gp_own: tuple[int, ...] = ()  # the lines that are the GP's own commitment (no carry)

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
    split = plan(uow, pool, command.proceeds, command.distributed_on, None, deal=command.company)
    names = gp_named(
        uow,
        pool.id,
        dict(
            uow.session.execute(
                text("SELECT id, name FROM users WHERE id = ANY(CAST(:ids AS bigint[]))"),
                {"ids": list(split.shares)},
            ).all()
        ),
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
    gp_own = tuple(sorted(gp_investors(uow, pool.id) & set(split.shares)))
    deal_name = None
    if command.company is not None:
        deal_name = uow.session.get_one(PortfolioCompany, command.company).name
    return DistributionPreview(
        pool.name,
        pool.currency,
        books.free_cash,
        tiers,
        lines,
        command,
        escrow_step(uow, pool, gp, None),
        deal_name,
        gp_own,
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
        "deal_name": preview.deal_name,
        "gp_own": list(preview.gp_own),
    }


def _from_json(figures: dict[str, Any]) -> DistributionPreview:
    c = figures["command"]
    command = Distribute(
        c["pool_id"],
        Decimal(c["proceeds"]),
        date.fromisoformat(c["date"]),
        c["memo"],
        c["pool_version"],
        c.get("deal"),
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
        figures.get("deal_name"),
        tuple(figures.get("gp_own", ())),
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
        split = plan(uow, pool, command.proceeds, command.distributed_on, upto, deal=command.company)
        approved = {"approval_id": payload["approval_id"]} if "approval_id" in payload else {}
        return {**command.payload(), **approved, "upto_journal": upto}, len(split.shares)

    def on_submit(self, uow, pool, operation_id, clean):  # noqa: ANN001, ANN201
        approvals.submitted(uow, operation_id, clean)

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        p = op.payload
        approvals.may_post(uow, actor, pool, KIND, p, op.id)
        on, proceeds, deal = date.fromisoformat(p["date"]), Decimal(p["proceeds"]), p.get("deal") or None
        if op.progress_done == 0:
            require_cash(uow, pool, proceeds, "proceeds", None)
            if deal is not None and proceeds > undistributed(uow, pool, deal, on):
                raise InvalidState(
                    "this deal's proceeds were distributed since the preview; preview it again"
                )
            approvals.approved_if_needed(pool, KIND, p, proceeds, actor)
            whole = plan(uow, pool, proceeds, on, p["upto_journal"], deal=deal)
            approvals.as_approved(uow, p, KIND, {i: (whole.lp[i], whole.gp[i]) for i in whole.shares})
            uow.session.execute(
                insert(Distribution),
                [
                    {
                        "pool_id": pool.id,
                        "company_id": deal,  # None: the whole fund's, or uninvested capital
                        "proceeds": proceeds,
                        "lp_total": sum(whole.lp.values(), ZERO),
                        "gp_total": sum(whole.gp.values(), ZERO),
                        "distributed_on": on,
                        "memo": p["memo"],
                        "operation_id": op.id,
                    }
                ],
            )
        batch = investors_slice(weights(uow, pool, on, p["upto_journal"], deal), op.progress_done)
        split = plan(uow, pool, proceeds, on, p["upto_journal"], only=batch, deal=deal)
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
