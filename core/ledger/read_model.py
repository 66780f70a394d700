"""The one read model of capital movements: every figure on every surface aggregates it.

movements() is a SQLAlchemy Core subquery of (pool_id, investor_id, journal_id, entry_id, kind, day,
line, amount): each ledger entry that feeds a line (core.ledger.accounts.MOVEMENTS), with its amount
signed as it moves that line (a reversal is negative). Readers group and sum it; they never name
an account or a debit/credit rule.

The date rule: every figure is as of a day, and a journal counts from its effective date on. A
reader passes as_of (a date); the engine's own checks pass as_of=None and freeze the ledger at a
journal id instead (upto_journal), so every batch of one operation sees the same weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    values,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import column

from core.ledger.accounts import BOOK_LINES, CAPITAL_LINES, MOVEMENTS, NAV_SIGN, Line
from db.models import Entry, Journal, PoolDay

ZERO = Decimal(0)
# NAV_SIGN by field name: Position.nav runs for every pool of a page (an enum's .value is slow).
_NAV_TERMS = tuple((line.value, sign) for line, sign in NAV_SIGN.items())

_LINE_MAP = values(
    column("kind", String),
    column("account", String),
    column("line", String),
    column("side", String),
    name="line_map",
).data(
    [
        (kind.value, account.value, line.value, side.value)
        for (kind, account), (line, side) in MOVEMENTS.items()
    ]
)
_ACCOUNTS_OF = {
    line: sorted({account.value for (_, account), (ln, _) in MOVEMENTS.items() if ln is line})
    for line in Line
}


def movements(
    *,
    as_of: date | None,
    since: date | None = None,
    pool_id: int | None = None,
    pool_ids: Sequence[int] | None = None,
    investor_id: int | None = None,
    lines: Iterable[Line] | None = None,
    upto_journal: int | None = None,
    operations: Any = None,
) -> Any:
    """The movements feeding `lines` (all by default), dated from `since` to `as_of` inclusive;
    `operations` (operation ids, a list or a select) keeps only the journals they posted."""
    wanted = tuple(lines) if lines is not None else tuple(Line)
    amount = case((Entry.side == _LINE_MAP.c.side, Entry.amount), else_=-Entry.amount)
    query = select(
        Entry.pool_id,
        Entry.investor_id,
        Entry.journal_id,
        Entry.id.label("entry_id"),
        Entry.kind,
        Entry.day,
        _LINE_MAP.c.line,
        amount.label("amount"),
    ).join(_LINE_MAP, and_(_LINE_MAP.c.kind == Entry.kind, _LINE_MAP.c.account == Entry.account))
    if lines is not None:
        # The accounts those lines read, so the entries' indexes narrow the scan before the join.
        # Written as literals: the planner can then use a partial index on them (a bound
        # parameter cannot prove an index's WHERE once psycopg prepares the statement).
        accounts = sorted({a for line in wanted for a in _ACCOUNTS_OF[line]})
        query = query.where(
            _LINE_MAP.c.line.in_([line.value for line in wanted]),
            Entry.account.in_([literal(a, literal_execute=True) for a in accounts]),
        )
    if as_of is not None:
        query = query.where(Entry.day <= as_of)
    if since is not None:
        query = query.where(Entry.day >= since)
    if pool_id is not None:
        query = query.where(Entry.pool_id == pool_id)
    if pool_ids is not None:
        query = query.where(Entry.pool_id.in_(list(pool_ids)))
    if investor_id is not None:
        query = query.where(Entry.investor_id == investor_id)
    if upto_journal is not None:
        query = query.where(Entry.journal_id <= upto_journal)
    if operations is not None:
        posted = select(Journal.id).where(Journal.operation_id.in_(operations))
        if pool_id is not None:
            posted = posted.where(Journal.pool_id == pool_id)
        query = query.where(Entry.journal_id.in_(posted))
    return query.subquery("movements")


def pool_days(
    *,
    as_of: date | None,
    since: date | None = None,
    pool_id: int | None = None,
    pool_ids: Sequence[int] | None = None,
    lines: Iterable[Line] | None = None,
) -> Any:
    """movements() summed per pool, day and line: a subquery of (pool_id, day, line, amount) for
    pool-wide figures over time. The database keeps these sums as entries are posted (migration
    0007), so a reader of every pool's history reads a row per pool, day and line, not every
    entry; verify checks them against the entries."""
    query = select(PoolDay.pool_id, PoolDay.day, PoolDay.line, PoolDay.amount)
    if lines is not None:
        query = query.where(PoolDay.line.in_([line.value for line in lines]))
    if as_of is not None:
        query = query.where(PoolDay.day <= as_of)
    if since is not None:
        query = query.where(PoolDay.day >= since)
    if pool_id is not None:
        query = query.where(PoolDay.pool_id == pool_id)
    if pool_ids is not None:
        query = query.where(PoolDay.pool_id.in_(list(pool_ids)))
    return query.subquery("pool_days")


def line_sums(m: Any, lines: Iterable[Line]) -> list[ColumnElement[Decimal]]:
    """One summed column per line (labelled by the line), over a movements() subquery."""
    return [
        func.coalesce(func.sum(m.c.amount).filter(m.c.line == line.value), 0).label(line.value)
        for line in lines
    ]


def nav_sum(m: Any) -> ColumnElement[Decimal]:
    """The capital account's balance (NAV) over a movements() subquery: each line by its sign."""
    signs: list[tuple[Any, Any]] = [
        (m.c.line == line.value, literal_column(str(sign))) for line, sign in NAV_SIGN.items()
    ]
    return func.coalesce(func.sum(m.c.amount * case(*signs, else_=literal_column("0"))), 0)


@dataclass(frozen=True)
class Position:
    """An investor's capital account in one pool (or any total of them), as of a day.

    Each field is a line, positive as labelled; the ILPA figures derive from them.
    """

    commitment: Decimal = ZERO
    called: Decimal = ZERO
    contributions: Decimal = ZERO
    distributions: Decimal = ZERO
    management_fees: Decimal = ZERO
    fund_expenses: Decimal = ZERO
    realized_gain: Decimal = ZERO
    unrealized_gain: Decimal = ZERO
    carried_interest: Decimal = ZERO

    @property
    def nav(self) -> Decimal:
        return sum((getattr(self, name) * sign for name, sign in _NAV_TERMS), ZERO)

    @property
    def paid_in(self) -> Decimal:
        """Paid-in capital: the contributions made against calls."""
        return self.contributions

    @property
    def unfunded(self) -> Decimal:
        """ILPA: commitment - capital called."""
        return self.commitment - self.called

    @property
    def outstanding(self) -> Decimal:
        """ILPA: capital called - paid-in."""
        return self.called - self.contributions

    def __add__(self, other: Position) -> Position:
        return Position(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @classmethod
    def of(cls, row: Any) -> Position:
        """From a row holding a column per capital line (as line_sums labels them)."""
        mapping = row._mapping
        return cls(*(mapping[line.value] for line in CAPITAL_LINES))


@dataclass(frozen=True)
class PoolBooks:
    """The pool's own accounts as of a day: what it holds and owes."""

    cash: Decimal = ZERO
    investments_at_cost: Decimal = ZERO
    unrealized_value: Decimal = ZERO
    fees_payable: Decimal = ZERO
    carry_in_escrow: Decimal = ZERO
    clawback_due: Decimal = ZERO

    @property
    def free_cash(self) -> Decimal:
        """The cash the pool may spend or distribute: carry in escrow is held back from it."""
        return self.cash - self.carry_in_escrow

    @property
    def portfolio_value(self) -> Decimal:
        """The holdings at their latest marks."""
        return self.investments_at_cost + self.unrealized_value

    @property
    def nav(self) -> Decimal:
        """Net assets: equal to the sum of the investors' capital accounts."""
        return self.cash + self.portfolio_value + self.clawback_due - self.fees_payable - self.carry_in_escrow


def positions(
    session: Session,
    *,
    as_of: date | None,
    by: str = "investor",
    pool_id: int | None = None,
    investor_id: int | None = None,
    upto_journal: int | None = None,
    lines: Sequence[Line] = CAPITAL_LINES,
) -> dict[Any, Position]:
    """Capital accounts keyed by investor (one pool's), by pool (one investor's), or by
    (pool, investor) with by="both". Only the lines asked for are read (the rest stay zero)."""
    m = movements(
        as_of=as_of, pool_id=pool_id, investor_id=investor_id, lines=lines, upto_journal=upto_journal
    )
    keys = {"investor": [m.c.investor_id], "pool": [m.c.pool_id], "both": [m.c.pool_id, m.c.investor_id]}[by]
    # Through Core, not the ORM's result machinery (a fifth of the time for 100,000 rows): entries
    # are only ever written by SQL statements, never flushed from the session, so both see the same.
    rows = session.connection().execute(select(*keys, *line_sums(m, lines)).group_by(*keys)).all()
    width = len(keys)
    # Built for up to 100,000 investors at once: by position when the lines are Position's leading
    # fields (all of them, or commitment and called), which takes half the time of by name.
    names = [line.value for line in lines]
    in_order = tuple(lines) == CAPITAL_LINES[: len(lines)]
    result = {}
    for row in rows:
        key = row[0] if width == 1 else tuple(row[:width])
        result[key] = (
            Position(*row[width:]) if in_order else Position(**dict(zip(names, row[width:], strict=True)))
        )
    return result


def total(
    session: Session,
    *,
    as_of: date | None,
    pool_id: int | None = None,
    investor_id: int | None = None,
    upto_journal: int | None = None,
    lines: Sequence[Line] = CAPITAL_LINES,
) -> Position:
    """One capital account summed over every investor of a pool (or every pool of an investor).
    Only the lines asked for are read (the rest stay zero)."""
    m = movements(
        as_of=as_of, pool_id=pool_id, investor_id=investor_id, lines=lines, upto_journal=upto_journal
    )
    row = session.execute(select(*line_sums(m, lines))).one()
    return Position(**dict(zip((line.value for line in lines), row, strict=True)))


def spendable_cash(session: Session, pool_id: int, on: date) -> Decimal:
    """What an outflow dated `on` may pay: the free cash on its day and today, whichever is less (a
    later outflow may have spent it since)."""
    return min(
        pool_books(session, pool_id, as_of=on).free_cash, pool_books(session, pool_id, as_of=None).free_cash
    )


def pool_books(
    session: Session, pool_id: int, *, as_of: date | None, upto_journal: int | None = None
) -> PoolBooks:
    m = movements(as_of=as_of, pool_id=pool_id, lines=BOOK_LINES, upto_journal=upto_journal)
    row = session.execute(select(*line_sums(m, BOOK_LINES))).one()
    return PoolBooks(**{line.value: row._mapping[line.value] for line in BOOK_LINES})


def last_journal(session: Session, pool_id: int) -> int:
    """The newest journal of a pool: the cut-off an operation freezes its figures at."""
    return session.execute(
        select(func.coalesce(func.max(Journal.id), 0)).where(Journal.pool_id == pool_id)
    ).scalar_one()


def daily(
    session: Session,
    *,
    as_of: date | None,
    pool_id: int | None = None,
    investor_id: int | None = None,
    since: date | None = None,
    lines: Sequence[Line] = tuple(Line),
) -> list[tuple[date, dict[Line, Decimal]]]:
    """Per day with movements, each line's change that day: the raw material of every time series."""
    if investor_id is None:
        m = pool_days(as_of=as_of, since=since, pool_id=pool_id, lines=lines)
    else:
        m = movements(as_of=as_of, since=since, pool_id=pool_id, investor_id=investor_id, lines=lines)
    rows = session.execute(select(m.c.day, *line_sums(m, lines)).group_by(m.c.day).order_by(m.c.day)).all()
    return [(row[0], dict(zip(lines, row[1:], strict=True))) for row in rows]


def select_positions(m: Any, keys: Sequence[Any], lines: Sequence[Line] = CAPITAL_LINES) -> Select[Any]:
    """select(keys, one sum per line) over a movements() subquery, grouped by the keys."""
    return select(*keys, *line_sums(m, lines)).group_by(*keys)


def dated(
    session: Session,
    *,
    pool_id: int,
    lines: Sequence[Line],
    as_of: date | None,
    upto_journal: int | None = None,
    investor_id: int | None = None,
) -> dict[int, dict[Line, list[tuple[date, Decimal]]]]:
    """Per investor (or only `investor_id`), each line's dated amounts (days with a non-zero net),
    oldest first: the flows a waterfall or an IRR reads."""
    m = movements(
        as_of=as_of, pool_id=pool_id, investor_id=investor_id, lines=lines, upto_journal=upto_journal
    )
    rows = session.execute(
        select(m.c.investor_id, m.c.line, m.c.day, func.sum(m.c.amount))
        .group_by(m.c.investor_id, m.c.line, m.c.day)
        .order_by(m.c.investor_id, m.c.day)
    ).all()
    flows: dict[int, dict[Line, list[tuple[date, Decimal]]]] = {}
    for investor, line, day, amount in rows:
        if amount:
            flows.setdefault(investor, {ln: [] for ln in lines})[Line(line)].append((day, amount))
    return flows
