"""Investments and marks: buying into portfolio companies, marking each holding, and exits.

A holding is one company's investments at cost plus its marks. A mark values one holding; the
change is booked to the investors pro rata to what they have paid in. An exit removes the holding
at its cost, releases its marks, and books the proceeds above cost as realized gain, so the
pool's NAV is its cash plus the remaining holdings at their latest marks at once.

The facts live in tables of their own (portfolio_companies, investments, marks, exits), written
in the transaction of the journals that book them; holdings() reads them, never an operation's
payload. A reversed fact (core.services.corrections) no longer counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, text

from core import clock
from core.domain import clean_text, not_in_future, request_date, require_running
from core.errors import Collector, InvalidState, NotFound, Stale, ValidationError
from core.fundmath import allocate
from core.ledger import Account, JournalKind, Line, read_model
from core.ledger import posting as ledger
from core.money import minor_unit, parse_amount
from core.operations import OperationStatus, submit
from core.operations.kind import Kind
from core.permissions import Actor, require_manager_of
from core.services.audit import audits_refused_reads
from core.services.pools import load_pool, require_cash
from core.uow import UnitOfWork
from core.vocabulary import PoolStatus
from db.models import Exit, Investment, Mark, Pool, PortfolioCompany

ZERO = Decimal(0)
INVEST, MARK, EXIT = "investment", "valuation", "exit"


# --- holdings: read from the facts ------------------------------------------------------------------


@dataclass(frozen=True)
class Holding:
    """One company as the pool holds it on a day; amounts in the pool's currency."""

    company_id: int
    company: str
    invested: Decimal  # every purchase at cost
    cost: Decimal  # what is still held, at cost
    unrealized: Decimal  # the held part's marks above (below) cost
    first_invested: date | None
    last_mark_on: date | None
    last_mark: Decimal | None
    exited_on: date | None
    proceeds: Decimal
    exited_cost: Decimal

    @property
    def value(self) -> Decimal:
        """The holding at its latest mark (cost until it has one)."""
        return self.cost + self.unrealized

    @property
    def held(self) -> bool:
        return self.cost > 0

    @property
    def realized_gain(self) -> Decimal:
        return self.proceeds - self.exited_cost


_HOLDINGS = text(
    """WITH live AS (SELECT CAST(:on AS date) AS on_day),
       inv AS (SELECT company_id, sum(amount) AS invested, min(invested_on) AS first_day
                 FROM investments, live
                WHERE pool_id = :pool AND invested_on <= coalesce(on_day, invested_on)
                  AND (reversed_on IS NULL OR reversed_on > on_day)
                GROUP BY company_id),
       mk AS (SELECT company_id, sum(change) AS changes, max(marked_on) AS last_day,
                     (array_agg(value ORDER BY marked_on DESC, id DESC))[1] AS last_value
                FROM marks, live
               WHERE pool_id = :pool AND marked_on <= coalesce(on_day, marked_on)
                 AND (reversed_on IS NULL OR reversed_on > on_day)
               GROUP BY company_id),
       ex AS (SELECT company_id, sum(proceeds) AS proceeds, sum(cost) AS cost, sum(released) AS released,
                     max(exited_on) AS last_day
                FROM exits, live
               WHERE pool_id = :pool AND exited_on <= coalesce(on_day, exited_on)
                 AND (reversed_on IS NULL OR reversed_on > on_day)
               GROUP BY company_id)
       SELECT c.id, c.name, coalesce(inv.invested, 0), coalesce(inv.invested, 0) - coalesce(ex.cost, 0),
              coalesce(mk.changes, 0) - coalesce(ex.released, 0), inv.first_day, mk.last_day, mk.last_value,
              ex.last_day, coalesce(ex.proceeds, 0), coalesce(ex.cost, 0)
         FROM portfolio_companies c
         JOIN inv ON inv.company_id = c.id
         LEFT JOIN mk ON mk.company_id = c.id
         LEFT JOIN ex ON ex.company_id = c.id
        WHERE c.pool_id = :pool
        ORDER BY c.name, c.id"""
)


def holdings(uow: UnitOfWork, pool_id: int, *, as_of: date | None = None) -> list[Holding]:
    """Every company the pool has invested in, as of a day (None: everything recorded)."""
    rows = uow.session.execute(_HOLDINGS, {"pool": pool_id, "on": as_of}).all()
    return [Holding(*row) for row in rows]


def _holding(uow: UnitOfWork, pool: Pool, company_id: object) -> Holding:
    found = next((h for h in holdings(uow, pool.id) if h.company_id == company_id), None)
    if found is None:
        raise NotFound("the pool holds no such company")
    return found


def gains_allocation(
    uow: UnitOfWork, pool: Pool, delta: Decimal, on: date, upto: int | None
) -> dict[int, Decimal]:
    """A change in value belongs to the investors pro rata to what they have paid in by that day."""
    held = read_model.positions(
        uow.session, as_of=on, pool_id=pool.id, upto_journal=upto, lines=(Line.CONTRIBUTIONS,)
    )
    weights = {i: p.contributions for i, p in sorted(held.items()) if p.contributions > 0}
    if not weights:
        raise InvalidState(f"nobody had paid in by {on}, so there is no one to book a gain or loss to")
    return allocate(delta, weights, minor_unit(pool.currency))


def _capital_legs(parts: dict[int, Decimal], gain_side: ledger.Side) -> list[ledger.Leg]:
    """The investors' half of a gain (on gain_side) or a loss (the other side)."""
    return [
        ledger.Leg(Account.CAPITAL, gain_side if amount > 0 else gain_side.opposite, abs(amount), investor)
        for investor, amount in parts.items()
        if amount != 0
    ]


def _stale(pool: Pool, request: Mapping[str, Any], what: str) -> None:
    version = request.get("pool_version")
    if version is not None and version != pool.version:
        raise Stale(f"{pool.name} changed since this {what} was previewed; preview it again")


def _day(request: Mapping[str, Any], field: str, not_before: date | None, before_what: str) -> date:
    day = not_in_future(request_date(request, field, clock.today()), field)
    if not_before is not None and day < not_before:
        raise ValidationError(field, f"must not be before {before_what} ({not_before})")
    return day


# --- buying into a company ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Invest:
    """The command: buy into a company (a new one, or more of one already held) at cost."""

    pool_id: int
    company: str
    amount: Decimal
    invested_on: date
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "company": self.company,
            "amount": str(self.amount),
            "date": self.invested_on.isoformat(),
            "pool_version": self.pool_version,
        }


def check_investment(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> Invest:
    require_manager_of(actor, uow, pool)
    require_running(pool.status, "an investment")
    _stale(pool, request, "investment")
    collect = Collector()
    with collect("company"):
        company = clean_text(request.get("company", ""), "company", max_length=120)
    with collect("date"):
        opened = pool.opened_at.date() if pool.opened_at else None
        on = _day(request, "date", opened, "the pool opened")
    with collect("amount"):
        amount = parse_amount(request.get("amount"), pool.currency, "amount")
        if collect.ok("date"):
            require_cash(uow, pool, amount, "amount", on)
    collect.raise_any()
    return Invest(pool.id, company, amount, on, pool.version)


def invest(actor: Actor, uow: UnitOfWork, command: Invest) -> OperationStatus:
    return submit(actor, uow, command.pool_id, INVEST, command.payload(), queue=uow.queue)


class RecordInvestment(Kind):
    name = INVEST

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201 - see Kind
        return check_investment(actor, uow, pool, payload).payload(), 1

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        command = check_investment(actor, uow, pool, {**op.payload, "pool_version": None})
        company_id = uow.session.execute(
            text(
                """INSERT INTO portfolio_companies (pool_id, name) VALUES (:pool, :name)
                   ON CONFLICT (pool_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
            ),
            {"pool": pool.id, "name": command.company},
        ).scalar_one()
        ledger.post(
            uow.session,
            pool_id=pool.id,
            currency=pool.currency,
            kind=JournalKind.INVESTMENT,
            idempotency_key=f"op:{op.id}",
            effective_date=command.invested_on,
            lines=[
                ledger.debit(Account.INVESTMENTS, command.amount),
                ledger.credit(Account.CASH, command.amount),
            ],
            memo=f"Investment in {command.company}",
            actor_id=actor.user_id,
            operation_id=op.id,
        )
        uow.session.execute(
            insert(Investment),
            [
                {
                    "pool_id": pool.id,
                    "company_id": company_id,
                    "amount": command.amount,
                    "invested_on": command.invested_on,
                    "operation_id": op.id,
                }
            ],
        )
        if pool.status == PoolStatus.CLOSED:
            pool.status = PoolStatus.INVESTING
            pool.version += 1
        return 1


# --- marking a holding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkHolding:
    """The command: a new fair value of one holding; the change is booked to the investors."""

    pool_id: int
    company_id: int
    value: Decimal
    change: Decimal
    marked_on: date
    note: str
    pool_version: int

    def payload(self) -> dict[str, Any]:
        return {
            "company_id": self.company_id,
            "value": str(self.value),
            "date": self.marked_on.isoformat(),
            "note": self.note,
            "pool_version": self.pool_version,
        }


def check_mark(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> MarkHolding:
    require_manager_of(actor, uow, pool)
    require_running(pool.status, "a valuation")
    _stale(pool, request, "valuation")
    holding = _holding(uow, pool, request.get("company_id"))
    if not holding.held:
        raise InvalidState(f"{holding.company} was exited; there is no holding left to value")
    collect = Collector()
    with collect("value"):
        value = parse_amount(request.get("value"), pool.currency, "value", allow_zero=True)
    with collect("date"):
        last = max(d for d in (holding.first_invested, holding.last_mark_on) if d is not None)
        what = "the last valuation" if holding.last_mark_on == last else "the investment"
        on = _day(request, "date", last, what)
    with collect("note"):
        note = clean_text(request.get("note", "") or "Valuation", "note", max_length=200)
    collect.raise_any()
    return MarkHolding(pool.id, holding.company_id, value, value - holding.value, on, note, pool.version)


def mark(actor: Actor, uow: UnitOfWork, command: MarkHolding) -> OperationStatus:
    return submit(actor, uow, command.pool_id, MARK, command.payload(), queue=uow.queue)


class RecordValuation(Kind):
    name = MARK

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        command = check_mark(actor, uow, pool, payload)
        upto = read_model.last_journal(uow.session, pool.id)
        if command.change:
            gains_allocation(uow, pool, command.change, command.marked_on, upto)  # someone to book it to
        return {**command.payload(), "change": str(command.change), "upto_journal": upto}, 1

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        require_manager_of(actor, uow, pool)
        p = op.payload
        change, on = Decimal(p["change"]), date.fromisoformat(p["date"])
        company = uow.session.get(PortfolioCompany, p["company_id"])
        if change:
            parts = gains_allocation(uow, pool, change, on, p["upto_journal"])
            ledger.post(
                uow.session,
                pool_id=pool.id,
                currency=pool.currency,
                kind=JournalKind.VALUATION,
                idempotency_key=f"op:{op.id}",
                effective_date=on,
                lines=[
                    *_capital_legs(parts, ledger.CREDIT),
                    ledger.Leg(
                        Account.UNREALIZED, ledger.DEBIT if change > 0 else ledger.CREDIT, abs(change)
                    ),
                ],
                memo=f"{company.name if company else 'Holding'} valued: {p['note']}",
                actor_id=actor.user_id,
                operation_id=op.id,
            )
        uow.session.execute(
            insert(Mark),
            [
                {
                    "pool_id": pool.id,
                    "company_id": p["company_id"],
                    "value": Decimal(p["value"]),
                    "change": change,
                    "marked_on": on,
                    "note": p["note"],
                    "operation_id": op.id,
                }
            ],
        )
        return 1

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"value": op.payload["value"], "change": op.payload["change"]}


# --- exits ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExitHolding:
    """The command: sell a whole holding. cost and released are the holding's as previewed."""

    pool_id: int
    company_id: int
    proceeds: Decimal
    cost: Decimal
    released: Decimal  # the holding's unrealized gain (loss negative), released by the exit
    exited_on: date
    pool_version: int

    @property
    def realized_gain(self) -> Decimal:
        return self.proceeds - self.cost

    @property
    def nav_change(self) -> Decimal:
        """What the exit moves the pool's NAV by: proceeds less the holding's value at its mark."""
        return self.proceeds - self.cost - self.released

    def payload(self) -> dict[str, Any]:
        return {
            "company_id": self.company_id,
            "proceeds": str(self.proceeds),
            "date": self.exited_on.isoformat(),
            "pool_version": self.pool_version,
        }


def check_exit(actor: Actor, uow: UnitOfWork, pool: Pool, request: Mapping[str, Any]) -> ExitHolding:
    require_manager_of(actor, uow, pool)
    require_running(pool.status, "an exit")
    _stale(pool, request, "exit")
    holding = _holding(uow, pool, request.get("company_id"))
    if not holding.held:
        raise InvalidState(f"{holding.company} was exited already")
    collect = Collector()
    with collect("proceeds"):
        proceeds = parse_amount(request.get("proceeds"), pool.currency, "proceeds", allow_zero=True)
    with collect("date"):
        last = max(d for d in (holding.first_invested, holding.last_mark_on) if d is not None)
        on = _day(
            request, "date", last, "the last valuation" if holding.last_mark_on == last else "the investment"
        )
    collect.raise_any()
    return ExitHolding(
        pool.id, holding.company_id, proceeds, holding.cost, holding.unrealized, on, pool.version
    )


def exit_holding(actor: Actor, uow: UnitOfWork, command: ExitHolding) -> OperationStatus:
    return submit(actor, uow, command.pool_id, EXIT, command.payload(), queue=uow.queue)


class RecordExit(Kind):
    name = EXIT

    def prepare(self, actor, uow, pool, payload):  # noqa: ANN001, ANN201
        command = check_exit(actor, uow, pool, payload)
        upto = read_model.last_journal(uow.session, pool.id)
        gains_allocation(uow, pool, Decimal(1), command.exited_on, upto)  # someone to book it to
        return {**command.payload(), "upto_journal": upto}, 1

    def run_batch(self, uow, op, pool, actor):  # noqa: ANN001, ANN201
        command = check_exit(actor, uow, pool, {**op.payload, "pool_version": None})
        company = uow.session.get(PortfolioCompany, command.company_id)
        name = company.name if company else "a holding"
        upto, on = op.payload["upto_journal"], command.exited_on
        # Realization: the proceeds come in, the holding leaves at cost, the difference is realized.
        realized = command.realized_gain
        legs = [ledger.credit(Account.INVESTMENTS, command.cost)]
        if command.proceeds:
            legs.append(ledger.debit(Account.CASH, command.proceeds))
        if realized:
            legs += _capital_legs(gains_allocation(uow, pool, realized, on, upto), ledger.CREDIT)
        postings = [
            ledger.Posting(
                pool.id,
                pool.currency,
                JournalKind.EXIT,
                f"op:{op.id}:exit",
                on,
                legs,
                f"Exit from {name}",
                actor.user_id,
                op.id,
            )
        ]
        # The marks on it are released: what was unrealized is now in the realized gain above.
        if command.released:
            parts = gains_allocation(uow, pool, -command.released, on, upto)
            postings.append(
                ledger.Posting(
                    pool.id,
                    pool.currency,
                    JournalKind.VALUATION,
                    f"op:{op.id}:release",
                    on,
                    [
                        *_capital_legs(parts, ledger.CREDIT),
                        ledger.Leg(
                            Account.UNREALIZED,
                            ledger.CREDIT if command.released > 0 else ledger.DEBIT,
                            abs(command.released),
                        ),
                    ],
                    f"Valuation of {name} released on exit",
                    actor.user_id,
                    op.id,
                )
            )
        ledger.post_many(uow.session, postings)
        uow.session.execute(
            insert(Exit),
            [
                {
                    "pool_id": pool.id,
                    "company_id": command.company_id,
                    "proceeds": command.proceeds,
                    "cost": command.cost,
                    "released": command.released,
                    "exited_on": on,
                    "operation_id": op.id,
                }
            ],
        )
        return 1

    def finish(self, uow, op, pool):  # noqa: ANN001, ANN201
        return {"proceeds": op.payload["proceeds"]}


# --- previews ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldingPreview:
    """What a mark or an exit would do to one holding and to the pool's NAV."""

    company: str
    currency: str
    value_before: Decimal
    nav_change: Decimal
    command: MarkHolding | ExitHolding | Invest


@audits_refused_reads
def preview_investment(
    actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]
) -> HoldingPreview:
    pool = load_pool(uow, pool_id)
    command = check_investment(actor, uow, pool, request)
    held = next((h for h in holdings(uow, pool.id) if h.company == command.company), None)
    return HoldingPreview(command.company, pool.currency, held.value if held else ZERO, ZERO, command)


@audits_refused_reads
def preview_mark(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> HoldingPreview:
    pool = load_pool(uow, pool_id)
    command = check_mark(actor, uow, pool, request)
    if command.change:
        gains_allocation(uow, pool, command.change, command.marked_on, None)
    held = _holding(uow, pool, command.company_id)
    return HoldingPreview(held.company, pool.currency, held.value, command.change, command)


@audits_refused_reads
def preview_exit(actor: Actor, uow: UnitOfWork, pool_id: int, request: Mapping[str, Any]) -> HoldingPreview:
    pool = load_pool(uow, pool_id)
    command = check_exit(actor, uow, pool, request)
    gains_allocation(uow, pool, Decimal(1), command.exited_on, None)
    held = _holding(uow, pool, command.company_id)
    return HoldingPreview(held.company, pool.currency, held.value, command.nav_change, command)


def companies(uow: UnitOfWork, pool_id: int) -> list[tuple[int, str]]:
    rows = uow.session.execute(
        select(PortfolioCompany.id, PortfolioCompany.name)
        .where(PortfolioCompany.pool_id == pool_id)
        .order_by(PortfolioCompany.name)
    )
    return [(company_id, name) for company_id, name in rows]
