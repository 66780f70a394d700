"""Figures read back from the ledger, set-based: one GROUP BY per question, never a Python loop.

Every number a page, a job or an export shows comes from here, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

ZERO = Decimal(0)

# Signed sums per investor and pool, by what the entries mean (see the booking table in core.ledger).
_POSITION_COLUMNS = """
    coalesce(sum(CASE WHEN e.account = 'commitment'
                      THEN CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END END), 0) AS committed,
    coalesce(sum(CASE WHEN j.kind = 'capital_call' AND e.account = 'receivable'
                      THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END), 0) AS called,
    coalesce(sum(CASE WHEN j.kind = 'payment' AND e.account = 'capital'
                      THEN CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END END), 0) AS paid_in,
    coalesce(sum(CASE WHEN j.kind = 'distribution' AND e.account = 'capital'
                      THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END), 0) AS distributed,
    coalesce(sum(CASE WHEN j.kind = 'carry' AND e.account = 'capital'
                      THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END), 0) AS carry,
    coalesce(sum(CASE WHEN j.kind = 'management_fee' AND e.account = 'capital'
                      THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END), 0) AS fees,
    coalesce(sum(CASE WHEN e.account = 'capital'
                      THEN CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END END), 0) AS nav,
    coalesce(sum(CASE WHEN e.account = 'receivable'
                      THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END), 0) AS outstanding
"""


@dataclass(frozen=True)
class Position:
    """An investor's place in one pool (or a pool's total when investor_id is None)."""

    pool_id: int
    investor_id: int | None
    committed: Decimal
    called: Decimal
    paid_in: Decimal
    distributed: Decimal
    carry: Decimal
    fees: Decimal
    nav: Decimal
    outstanding: Decimal

    @property
    def unfunded(self) -> Decimal:
        return self.committed - self.called


def investor_positions(
    session: Session, pool_id: int, *, until: date | None = None, upto_journal: int | None = None
) -> dict[int, Position]:
    """Every investor's position in a pool, keyed by investor id.

    upto_journal freezes the picture at a journal id, so every batch of one operation sees the
    same weights even while payments land in between.
    """
    rows = session.execute(
        text(
            f"""SELECT e.investor_id, {_POSITION_COLUMNS}
                  FROM entries e JOIN journals j ON j.id = e.journal_id
                 WHERE e.pool_id = :pool AND e.investor_id IS NOT NULL
                   AND (CAST(:until AS date) IS NULL OR j.effective_date <= :until)
                   AND (CAST(:upto AS bigint) IS NULL OR j.id <= :upto)
                 GROUP BY e.investor_id"""
        ),
        {"pool": pool_id, "until": until, "upto": upto_journal},
    ).all()  # one fetch: iterating the result row by row costs a driver call per investor
    return {row[0]: Position(pool_id, *row) for row in rows}


@dataclass(frozen=True)
class CallBasis:
    """What a capital call is allocated on: an investor's commitment and what was called of it."""

    committed: Decimal
    called: Decimal

    @property
    def unfunded(self) -> Decimal:
        return self.committed - self.called


def call_bases(session: Session, pool_id: int, upto_journal: int) -> dict[int, CallBasis]:
    """investor_positions narrowed to the two accounts a call needs: a capital call over 100,000
    investors reads 2 sums per investor instead of 8, from the commitment and receivable entries only."""
    rows = session.execute(
        text(
            """SELECT e.investor_id,
                      coalesce(sum(CASE WHEN e.account = 'commitment'
                                        THEN CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END END), 0),
                      coalesce(sum(CASE WHEN e.account = 'receivable' AND j.kind = 'capital_call'
                                        THEN CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END END), 0)
                 FROM entries e JOIN journals j ON j.id = e.journal_id
                WHERE e.pool_id = :pool AND e.account IN ('commitment', 'receivable')
                  AND e.journal_id <= :upto
                GROUP BY e.investor_id"""
        ),
        {"pool": pool_id, "upto": upto_journal},
    ).all()
    return {investor: CallBasis(committed, called) for investor, committed, called in rows}


def positions_of_investor(
    session: Session, investor_id: int, until: date | None = None
) -> dict[int, Position]:
    """One investor's position in every pool they are in, keyed by pool id."""
    rows = session.execute(
        text(
            f"""SELECT e.pool_id, {_POSITION_COLUMNS}
                  FROM entries e JOIN journals j ON j.id = e.journal_id
                 WHERE e.investor_id = :investor
                   AND (CAST(:until AS date) IS NULL OR j.effective_date <= :until)
                 GROUP BY e.pool_id"""
        ),
        {"investor": investor_id, "until": until},
    )
    return {row[0]: Position(row[0], investor_id, *row[1:]) for row in rows}


def last_journal(session: Session, pool_id: int) -> int:
    """The newest journal of a pool: the cut-off an operation freezes its weights at."""
    return session.execute(
        text("SELECT coalesce(max(id), 0) FROM journals WHERE pool_id = :pool"), {"pool": pool_id}
    ).scalar_one()


def dated_capital_flows(
    session: Session, pool_id: int, upto_journal: int
) -> dict[int, dict[str, list[tuple[date, Decimal]]]]:
    """Per investor: dated contributions, distributions and carry (positive amounts), for the waterfall."""
    rows = session.execute(
        text(
            """SELECT e.investor_id, j.kind, j.effective_date,
                      sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                 FROM entries e JOIN journals j ON j.id = e.journal_id
                WHERE e.pool_id = :pool AND e.account = 'capital' AND j.id <= :upto
                  AND j.kind IN ('payment', 'distribution', 'carry')
                GROUP BY e.investor_id, j.kind, j.effective_date
                ORDER BY e.investor_id, j.effective_date"""
        ),
        {"pool": pool_id, "upto": upto_journal},
    ).all()
    flows: dict[int, dict[str, list[tuple[date, Decimal]]]] = {}
    for investor_id, kind, when, credit in rows:
        mine = flows.setdefault(investor_id, {"payment": [], "distribution": [], "carry": []})
        amount = credit if kind == "payment" else -credit
        if amount > 0:
            mine[kind].append((when, amount))
    return flows


def pools_of_investor(session: Session, investor_id: int) -> list[int]:
    return list(
        session.execute(
            text("SELECT DISTINCT pool_id FROM entries WHERE investor_id = :investor"),
            {"investor": investor_id},
        ).scalars()
    )


def pool_total(session: Session, pool_id: int) -> Position:
    row = session.execute(
        text(
            f"""SELECT {_POSITION_COLUMNS}
                  FROM entries e JOIN journals j ON j.id = e.journal_id
                 WHERE e.pool_id = :pool AND e.investor_id IS NOT NULL"""
        ),
        {"pool": pool_id},
    ).one()
    return Position(pool_id, None, *row)


@dataclass(frozen=True)
class PoolBooks:
    """The pool-level accounts, debit-positive: what the pool holds."""

    cash: Decimal
    investments: Decimal
    unrealized: Decimal
    fee_income: Decimal

    @property
    def portfolio_value(self) -> Decimal:
        return self.investments + self.unrealized


def pool_books(session: Session, pool_id: int) -> PoolBooks:
    rows = dict(
        session.execute(
            text(
                """SELECT account, sum(CASE side WHEN 'D' THEN amount ELSE -amount END)
                     FROM entries WHERE pool_id = :pool AND investor_id IS NULL GROUP BY account"""
            ),
            {"pool": pool_id},
        ).all()
    )
    return PoolBooks(
        cash=rows.get("cash", ZERO),
        investments=rows.get("investments", ZERO),
        unrealized=rows.get("unrealized", ZERO),
        fee_income=-rows.get("fee_income", ZERO),
    )


def investor_flows(session: Session, pool_id: int, investor_id: int) -> list[tuple[date, str, Decimal]]:
    """Dated movements of one investor in one pool, as core.fundmath.capital_account reads them."""
    rows = session.execute(
        text(
            """SELECT j.effective_date, j.kind, e.account,
                      sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END)
                 FROM entries e JOIN journals j ON j.id = e.journal_id
                WHERE e.pool_id = :pool AND e.investor_id = :investor
                  AND e.account IN ('commitment', 'capital')
                GROUP BY j.effective_date, j.kind, e.account
                ORDER BY j.effective_date"""
        ),
        {"pool": pool_id, "investor": investor_id},
    )
    return [movement for row in rows if (movement := _movement(*row)) is not None]


# (journal kind, account) -> the capital account line and the sign that makes its amount positive.
_MOVEMENTS = {
    ("commitment", "commitment"): ("commitment", 1),
    ("payment", "capital"): ("contribution", 1),
    ("distribution", "capital"): ("distribution", -1),
    ("management_fee", "capital"): ("management_fee", -1),
    ("valuation", "capital"): ("unrealized_gain", 1),
    # Carried interest is the manager's share of realized profit: it reduces the LP's realized gain.
    ("carry", "capital"): ("realized_gain", 1),
}


def _movement(when: date, kind: str, account: str, credit: Decimal) -> tuple[date, str, Decimal] | None:
    mapped = _MOVEMENTS.get((kind, account))
    if mapped is None:
        return None
    line, sign = mapped
    return when, line, sign * credit
