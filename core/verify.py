"""`python -m core verify`: every ledger invariant, every figure's definition, and every stored fact
against the ledger.

Three kinds of check, each one set-based query returning the rows that break it:
- the ledger's own rules on raw accounts and sides (core.ledger.checks: balance, sign, order);
- the figures: each capital-account figure the read model gives (core.ledger.read_model, the one
  definition every surface uses) against its recomputation from the raw entries in
  core.ledger.checks, per pool and investor, as of the day verified (the date rule: a journal
  counts from its effective date on), so a drift in either fails; the receivable against capital
  called less contributions; every capital account statement against the capital account;
- the domain facts (commitments, call items, payments, distributions, holdings) against the lines
  the read model gives over the whole ledger.
No account name and no debit/credit rule is written here: those live in core.ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, or_, select, text, tuple_
from sqlalchemy.orm import Session

from core import clock
from core.fundmath import capital_account
from core.ledger import BOOK_LINES, CAPITAL_LINES, Line, checks, read_model
from core.ledger.accounts import MOVEMENTS
from core.ledger.read_model import PoolBooks, Position
from core.vocabulary import CallStatus, CommitmentStatus, PoolStatus
from db.models import (
    CallItem,
    CapitalCall,
    Commitment,
    Distribution,
    Exit,
    Investment,
    Journal,
    LedgerLineMap,
    Mark,
    Payment,
    Pool,
    WindDown,
)

ZERO = Decimal(0)
LIMIT = checks.LIMIT
BALANCED = "every journal balances per currency with at least two entries"
FIGURES = "every capital-account figure of the read model equals its recomputation from the entries"
RECEIVABLES = "each investor's receivable equals capital called less contributions"
STATEMENTS = "every investor's capital account statement ends at the ledger's capital balance and commitment"
BOOKS = "each pool's books in the read model equal its accounts, and its net assets its capital accounts"
# The calls whose items carry what the call booked (an issuing call is still being booked).
BOOKED_CALLS = (CallStatus.ISSUED, CallStatus.PARTIALLY_PAID, CallStatus.PAID)


def _limited(query: Any) -> Any:
    """A check's query, cut to the rows verify shows."""
    return query.limit(LIMIT)


def _differ(a: Any, b: Any) -> Any:
    return func.coalesce(a, 0) != func.coalesce(b, 0)


def _sums(lines: tuple[Line, ...], keys: Callable[[Any], list[Any]]) -> Any:
    """The read model's lines over the whole ledger, summed by keys(m): the engine's own view."""
    m = read_model.movements(as_of=None, lines=lines)
    return read_model.select_positions(m, keys(m), lines).subquery()


def _compare(left: Any, right: Any, keys: tuple[str, ...], pairs: list[tuple[str, str]]) -> Select[Any]:
    """Rows of two keyed subqueries (full outer join) where any (left, right) column pair differs."""
    on = and_(*(left.c[k] == right.c[k] for k in keys))
    return _limited(
        select(
            *(func.coalesce(left.c[k], right.c[k]).label(k) for k in keys),
            *(column for a, b in pairs for column in (left.c[a], right.c[b])),
        )
        .select_from(left.join(right, on, full=True))
        .where(or_(*(_differ(left.c[a], right.c[b]) for a, b in pairs)))
    )


# --- plain SQL checks (no account, no side: tables and their keys) ---------------------------------

_SQL_CHECKS: dict[str, str] = {
    "entries carry their pool's currency": """
        SELECT e.journal_id, e.currency, p.currency FROM entries e JOIN pools p ON p.id = e.pool_id
         WHERE e.currency <> p.currency LIMIT 20""",
    "entries belong to their journal's pool": """
        SELECT e.id, e.pool_id, j.pool_id FROM entries e LEFT JOIN journals j ON j.id = e.journal_id
         WHERE j.id IS NULL OR j.pool_id IS DISTINCT FROM e.pool_id LIMIT 20""",
    "entries name existing investors": """
        SELECT e.id, e.investor_id FROM entries e LEFT JOIN users u ON u.id = e.investor_id
         WHERE e.investor_id IS NOT NULL AND u.id IS NULL LIMIT 20""",
    "accepted commitments stay within the hard cap": f"""
        SELECT p.id, p.hard_cap, sum(c.amount_accepted) FROM pools p JOIN commitments c ON c.pool_id = p.id
         WHERE c.status = '{CommitmentStatus.ACCEPTED.value}' GROUP BY p.id, p.hard_cap
        HAVING sum(c.amount_accepted) > p.hard_cap LIMIT 20""",
    "call items name a commitment of their pool and its investor": """
        SELECT i.id, i.commitment_id, i.investor_id FROM call_items i
          JOIN capital_calls c ON c.id = i.call_id
          LEFT JOIN commitments m ON m.id = i.commitment_id
          LEFT JOIN users u ON u.id = i.investor_id
         WHERE m.id IS NULL OR u.id IS NULL OR m.investor_id <> i.investor_id OR m.pool_id <> c.pool_id
         LIMIT 20""",
}


def _sql(query: str) -> Callable[[Session, date], list[tuple[Any, ...]]]:
    return lambda session, as_of: [tuple(r) for r in session.execute(text(query))]


def _draft_postings(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    """A draft pool takes no commitments, so it has no journal: the explorer relies on it."""
    query = (
        select(Journal.pool_id, Journal.id, Journal.kind)
        .join(Pool, Pool.id == Journal.pool_id)
        .where(Pool.status == PoolStatus.DRAFT.value)
    )
    return [tuple(r) for r in session.execute(_limited(query))]


def _commitments(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    booked = _sums((Line.COMMITMENT,), lambda m: [m.c.pool_id, m.c.investor_id])
    accepted = (
        select(
            Commitment.pool_id, Commitment.investor_id, func.sum(Commitment.amount_accepted).label("amount")
        )
        .where(Commitment.status == CommitmentStatus.ACCEPTED.value)
        .group_by(Commitment.pool_id, Commitment.investor_id)
        .subquery()
    )
    query = _compare(accepted, booked, ("pool_id", "investor_id"), [("amount", Line.COMMITMENT.value)])
    return [tuple(r) for r in session.execute(query)]


def _called_too_much(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    booked = _sums((Line.COMMITMENT, Line.CALLED), lambda m: [m.c.pool_id, m.c.investor_id])
    query = select(booked).where(booked.c[Line.CALLED.value] > booked.c[Line.COMMITMENT.value])
    return [tuple(r) for r in session.execute(_limited(query))]


def _calls_booked(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    m = read_model.movements(as_of=None, lines=(Line.CALLED,))
    booked = (
        select(CapitalCall.id.label("call_id"), m.c.investor_id, func.sum(m.c.amount).label("amount"))
        .join(Journal, Journal.id == m.c.journal_id)
        .join(CapitalCall, CapitalCall.operation_id == Journal.operation_id)
        .where(CapitalCall.status.in_(BOOKED_CALLS))
        .group_by(CapitalCall.id, m.c.investor_id)
        .subquery()
    )
    due = (
        select(CallItem.call_id, CallItem.investor_id, func.sum(CallItem.amount_due).label("amount"))
        .join(CapitalCall, CapitalCall.id == CallItem.call_id)
        .where(CapitalCall.status.in_(BOOKED_CALLS))
        .group_by(CallItem.call_id, CallItem.investor_id)
        .subquery()
    )
    query = _compare(due, booked, ("call_id", "investor_id"), [("amount", "amount")])
    return [tuple(r) for r in session.execute(query)]


def _recorded_payments() -> Any:
    return Payment.reversed_on.is_(None)


def _items_paid(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    paid = (
        select(CallItem.id.label("call_item_id"), CallItem.amount_paid.label("amount"))
        .where(CallItem.amount_paid != 0)
        .subquery()
    )
    payments = (
        select(Payment.call_item_id, func.sum(Payment.amount).label("amount"))
        .where(_recorded_payments())
        .group_by(Payment.call_item_id)
        .subquery()
    )
    query = _compare(paid, payments, ("call_item_id",), [("amount", "amount")])
    return [tuple(r) for r in session.execute(query)]


def _payments(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    booked = _sums((Line.CONTRIBUTIONS,), lambda m: [m.c.pool_id, m.c.investor_id])
    recorded = (
        select(Payment.pool_id, Payment.investor_id, func.sum(Payment.amount).label("amount"))
        .where(_recorded_payments())
        .group_by(Payment.pool_id, Payment.investor_id)
        .subquery()
    )
    query = _compare(recorded, booked, ("pool_id", "investor_id"), [("amount", Line.CONTRIBUTIONS.value)])
    return [tuple(r) for r in session.execute(query)]


def _distributions(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    lines = (Line.DISTRIBUTIONS, Line.CARRIED_INTEREST)
    booked = _sums(lines, lambda m: [m.c.pool_id])
    # A wind-down's true-up moves both lines too: escrow applied goes back to the investors on the
    # carried-interest line and is paid out to them; the clawback due comes off the carry line.
    facts = (
        select(Distribution.pool_id, Distribution.lp_total, Distribution.gp_total)
        .where(Distribution.reversed_on.is_(None))
        .union_all(
            select(
                WindDown.pool_id,
                WindDown.escrow_applied,
                -WindDown.escrow_applied - WindDown.clawback_due,
            )
        )
        .subquery()
    )
    recorded = (
        select(
            facts.c.pool_id,
            func.sum(facts.c.lp_total).label("lp_total"),
            func.sum(facts.c.gp_total).label("gp_total"),
        )
        .group_by(facts.c.pool_id)
        .subquery()
    )
    pairs = [("lp_total", Line.DISTRIBUTIONS.value), ("gp_total", Line.CARRIED_INTEREST.value)]
    return [tuple(r) for r in session.execute(_compare(recorded, booked, ("pool_id",), pairs))]


def _holdings(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    """Per pool, the holdings core.services.investments.holdings reads (investments at cost less
    what exits took out; marks less what exits released; reversed facts left out) against the
    investments-at-cost and unrealized-value lines."""
    lines = (Line.INVESTMENTS_AT_COST, Line.UNREALIZED_VALUE)
    booked = _sums(lines, lambda m: [m.c.pool_id])
    parts = [
        select(
            Investment.pool_id, Investment.amount.label("cost"), literal_column("0").label("unrealized")
        ).where(Investment.reversed_on.is_(None)),
        select(Mark.pool_id, literal_column("0"), Mark.change).where(Mark.reversed_on.is_(None)),
        select(Exit.pool_id, -Exit.cost, -Exit.released).where(Exit.reversed_on.is_(None)),
    ]
    facts = parts[0].union_all(*parts[1:]).subquery()
    held = (
        select(
            facts.c.pool_id,
            func.sum(facts.c.cost).label("cost"),
            func.sum(facts.c.unrealized).label("unrealized"),
        )
        .group_by(facts.c.pool_id)
        .subquery()
    )
    pairs = [("cost", Line.INVESTMENTS_AT_COST.value), ("unrealized", Line.UNREALIZED_VALUE.value)]
    return [tuple(r) for r in session.execute(_compare(held, booked, ("pool_id",), pairs))]


def _books(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    """The read model's pool books against the pool's accounts, and its NAV against the capital."""
    m = read_model.movements(as_of=as_of, lines=BOOK_LINES)
    read = read_model.select_positions(m, [m.c.pool_id], BOOK_LINES).subquery()
    raw = checks.recompute_books(as_of)
    query = select(func.coalesce(read.c.pool_id, raw.c.pool_id), read, raw).select_from(
        read.join(raw, read.c.pool_id == raw.c.pool_id, full=True)
    )
    wrong = []
    for row in session.execute(query):
        mapping = row._mapping
        books = PoolBooks(*(mapping[read.c[line.value]] or ZERO for line in BOOK_LINES))
        found = [
            (line.value, getattr(books, line.value), mapping[raw.c[line.value]] or ZERO)
            for line in BOOK_LINES
        ] + [("nav", books.nav, mapping[raw.c.capital] or ZERO)]
        wrong += [(row[0], name, a, b) for name, a, b in found if a != b]
    return wrong[:LIMIT]


def _line_map(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    """The database's copy of the vocabulary (the rows its pool_days trigger reads) against the code's."""
    stored = {
        (row.kind, row.account): (row.line, row.side)
        for row in session.execute(select(LedgerLineMap)).scalars()
    }
    spoken = {
        (kind.value, account.value): (line.value, side.value)
        for (kind, account), (line, side) in MOVEMENTS.items()
    }
    return [
        (kind, account, stored.get((kind, account)), spoken.get((kind, account)))
        for kind, account in sorted(stored.keys() | spoken.keys())
        if stored.get((kind, account)) != spoken.get((kind, account))
    ][:LIMIT]


def _pool_days(session: Session, as_of: date) -> list[tuple[Any, ...]]:
    """The daily sums the database keeps (read_model.pool_days) against the movements they sum."""
    m = read_model.movements(as_of=None)
    moved = (
        select(m.c.pool_id, m.c.day, m.c.line, func.sum(m.c.amount).label("amount"))
        .group_by(m.c.pool_id, m.c.day, m.c.line)
        .subquery("moved")
    )
    kept = read_model.pool_days(as_of=None)
    return [
        tuple(r)
        for r in session.execute(_compare(kept, moved, ("pool_id", "day", "line"), [("amount", "amount")]))
    ]


# Ledger-internal checks (raw accounts, core.ledger.checks) and the rest, in the order shown.
CHECKS: dict[str, Callable[[Session, date], list[tuple[Any, ...]]]] = {
    BALANCED: lambda session, as_of: checks.unbalanced_journals(session),
    "each pool's books balance": lambda session, as_of: checks.unbalanced_pools(session),
    **{name: _sql(query) for name, query in _SQL_CHECKS.items()},
    "draft pools have no postings": _draft_postings,
    "no posting precedes the commitment it depends on": lambda session, as_of: (
        checks.postings_before_commitment(session)
    ),
    "accepted commitments equal the commitment line": _commitments,
    "capital called never exceeds the commitment": _called_too_much,
    "no investor owes a negative receivable or holds negative unfunded commitment": lambda session, as_of: (
        checks.negative_balances(session)
    ),
    "call items due equal what the issued calls booked": _calls_booked,
    "call items paid equal the payments recorded against them": _items_paid,
    "payments recorded equal the contributions line": _payments,
    "distributions recorded equal the distributions and carried interest lines": _distributions,
    "holdings equal the investments at cost and unrealized value lines": _holdings,
    BOOKS: _books,
    "the database's line map is the ledger's vocabulary": _line_map,
    "each pool's daily sums equal its movements": _pool_days,
}
POSITION_CHECKS = (FIGURES, RECEIVABLES, STATEMENTS)


@dataclass
class Report:
    as_of: date
    counts: dict[str, int] = field(default_factory=dict)
    violations: dict[str, list[tuple]] = field(default_factory=dict)
    positions_checked: int = 0  # investor positions whose figures and statement were checked
    positions_total: int = 0  # investor positions in the ledger

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def sampled(self) -> bool:
        return self.positions_checked < self.positions_total

    def summary(self) -> str:
        lines = [", ".join(f"{name}: {count:,}" for name, count in self.counts.items())]
        lines.append(f"checks (figures as of {self.as_of.isoformat()}):")
        for name in [*CHECKS, *POSITION_CHECKS]:
            found = self.violations.get(name)
            lines.append(f"  {'FAIL' if found else 'ok  '} {name}")
            for row in (found or [])[:5]:
                lines.append(f"         {row}")
            if name in POSITION_CHECKS and found and len(found) > 5:
                lines.append(f"         ... and {len(found) - 5:,} more")
        lines.append(
            f"capital accounts checked: {self.positions_checked:,} of {self.positions_total:,} investor positions"
            + (" (a random sample)" if self.sampled else "")
        )
        lines.append("ledger verified: OK" if self.ok else "ledger verified: VIOLATIONS FOUND")
        return "\n".join(lines)


def _positions(session: Session, as_of: date, sample: int | None) -> tuple[Iterator[Any], int | None]:
    """Per investor position: the read model's lines (read_<line>) and the recomputation from the
    entries (raw_<figure>), as of a day; one query, streamed. With `sample`, that many positions
    picked at random."""
    m = read_model.movements(as_of=as_of, lines=CAPITAL_LINES)
    read = read_model.select_positions(m, [m.c.pool_id, m.c.investor_id]).subquery("read")
    raw = checks.recompute_positions(as_of)
    keys = [func.coalesce(read.c[k], raw.c[k]) for k in ("pool_id", "investor_id")]
    query = select(
        keys[0].label("pool_id"),
        keys[1].label("investor_id"),
        *(func.coalesce(read.c[line.value], 0).label(f"read_{line.value}") for line in CAPITAL_LINES),
        *(func.coalesce(raw.c[name], 0).label(f"raw_{name}") for name in (*checks.FIGURES, *checks.BALANCES)),
    ).select_from(
        read.join(
            raw, and_(read.c.pool_id == raw.c.pool_id, read.c.investor_id == raw.c.investor_id), full=True
        )
    )
    total = None
    if sample is not None:
        everyone = select(raw.c.pool_id, raw.c.investor_id)
        total = session.execute(select(func.count()).select_from(everyone.subquery())).scalar_one()
        if sample < total:
            query = query.where(tuple_(*keys).in_(everyone.order_by(func.random()).limit(sample)))
    rows = session.execute(query, execution_options={"yield_per": 20_000})
    return (row._mapping for row in rows), total


def _check_positions(session: Session, report: Report, sample: int | None) -> dict[str, list[tuple]]:
    """Every figure, the receivable and the statement of every investor position."""
    rows, total = _positions(session, report.as_of, sample)
    found: dict[str, list[tuple]] = {name: [] for name in POSITION_CHECKS}
    checked = 0
    for row in rows:
        checked += 1
        key = (row["pool_id"], row["investor_id"])
        position = Position(*(row[f"read_{line.value}"] for line in CAPITAL_LINES))
        for figure in checks.FIGURES:
            mine, recomputed = getattr(position, figure), row[f"raw_{figure}"]
            if mine != recomputed:
                found[FIGURES].append((*key, figure, mine, recomputed))
        if row["raw_receivable"] != position.outstanding:
            found[RECEIVABLES].append((*key, row["raw_receivable"], position.outstanding))
        lines = [(date.min, line, getattr(position, line.value)) for line in CAPITAL_LINES]
        statement = capital_account(lines, date.min, date.max)
        capital, commitment = row["raw_capital"], row["raw_commitment"]
        if statement.ending_nav != capital or statement.commitment != commitment:
            found[STATEMENTS].append((*key, capital, statement.ending_nav, commitment, statement.commitment))
    report.positions_checked = checked
    report.positions_total = checked if total is None else total
    return {name: wrong for name, wrong in found.items() if wrong}


def verify(session: Session, *, statement_sample: int | None = None, as_of: date | None = None) -> Report:
    """Every check over the whole database; figures as of `as_of` (default today).
    statement_sample=N checks the figures and statements of N random investor positions only (the
    summary says so); by default every one is checked."""
    report = Report(as_of or clock.today())
    if not session.in_transaction():
        # One snapshot for every check: a posting committed while verify runs is never seen by one
        # check and not by the next (a false violation). A caller's open transaction is left as it is.
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    for table in ("users", "pools", "commitments", "journals", "entries", "call_items", "operations"):
        report.counts[table] = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    for name, check in CHECKS.items():
        rows = check(session, report.as_of)
        if rows:
            report.violations[name] = rows
    report.violations.update(_check_positions(session, report, statement_sample))
    return report
