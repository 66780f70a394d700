"""The ledger's own invariants, read straight from the entries, for `python -m core verify`.

Everything here works on raw accounts and sides, deliberately without the read model: verify
compares these recomputations with what core.ledger.read_model gives, so a drift in either (a
changed map, a movement booked to an account no line reads, a wrong sign) fails it. The arithmetic
below is written out on its own on purpose; it is the second opinion, not a copy to keep in step.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, column, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from core.ledger.accounts import Account, JournalKind

LIMIT = 20  # violating rows a check returns (verify shows a handful)

# The figures recompute_positions() gives per (pool_id, investor_id), as read_model.Position names
# its lines and derived figures; then the account balances behind them.
FIGURES = (
    "commitment",
    "called",
    "contributions",
    "distributions",
    "management_fees",
    "fund_expenses",
    "realized_gain",
    "unrealized_gain",
    "carried_interest",
    "nav",
    "unfunded",
    "outstanding",
)
BALANCES = ("receivable", "capital")

_CREDIT = "CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END"
_DEBIT = "CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END"
_AS_OF = "(CAST(:as_of AS date) IS NULL OR j.effective_date <= CAST(:as_of AS date))"


def _sum(sign: str, account: Account, kind: JournalKind | None = None) -> str:
    which = f"e.account = '{account.value}'" + ("" if kind is None else f" AND j.kind = '{kind.value}'")
    return f"coalesce(sum({sign}) FILTER (WHERE {which}), 0)"


_POSITIONS = f"""
SELECT pool_id, investor_id, {", ".join(FIGURES[:9])},
       contributions - distributions - management_fees - fund_expenses
           + realized_gain + unrealized_gain - carried_interest AS nav,
       commitment - called AS unfunded,
       called - contributions AS outstanding,
       receivable, capital
  FROM (SELECT e.pool_id, e.investor_id,
               {_sum(_CREDIT, Account.COMMITMENT)} AS commitment,
               {_sum(_DEBIT, Account.RECEIVABLE, JournalKind.CAPITAL_CALL)} AS called,
               {_sum(_CREDIT, Account.CAPITAL, JournalKind.PAYMENT)} AS contributions,
               {_sum(_DEBIT, Account.CAPITAL, JournalKind.DISTRIBUTION)} AS distributions,
               {_sum(_DEBIT, Account.CAPITAL, JournalKind.MANAGEMENT_FEE)} AS management_fees,
               {_sum(_DEBIT, Account.CAPITAL, JournalKind.FUND_EXPENSE)} AS fund_expenses,
               {_sum(_CREDIT, Account.CAPITAL, JournalKind.EXIT)} AS realized_gain,
               {_sum(_CREDIT, Account.CAPITAL, JournalKind.VALUATION)} AS unrealized_gain,
               {_sum(_DEBIT, Account.CAPITAL, JournalKind.CARRY)} AS carried_interest,
               {_sum(_DEBIT, Account.RECEIVABLE)} AS receivable,
               {_sum(_CREDIT, Account.CAPITAL)} AS capital
          FROM entries e JOIN journals j ON j.id = e.journal_id
         WHERE e.investor_id IS NOT NULL AND {_AS_OF}
         GROUP BY e.pool_id, e.investor_id) raw"""


def recompute_positions(as_of: date | None) -> Any:
    """Per (pool_id, investor_id) with investor entries: every capital-account figure recomputed
    from the entries (FIGURES: the commitment is its account's balance, whatever journal booked it;
    each movement of capital by the journal kind that makes it), and the balances of the
    receivable and capital accounts (BALANCES), as of a day. A subquery to join."""
    columns = [column("pool_id"), column("investor_id")] + [
        column(name, Numeric) for name in (*FIGURES, *BALANCES)
    ]
    clause: TextClause = text(_POSITIONS).bindparams(as_of=as_of)
    return clause.columns(*columns).subquery("recomputed")


_BOOKS = f"""
SELECT e.pool_id,
       {_sum(_DEBIT, Account.CASH)} AS cash,
       {_sum(_DEBIT, Account.INVESTMENTS)} AS investments_at_cost,
       {_sum(_DEBIT, Account.UNREALIZED)} AS unrealized_value,
       {_sum(_CREDIT, Account.FEE_INCOME)} AS fees_payable,
       {_sum(_CREDIT, Account.CARRY_ESCROW)} AS carry_in_escrow,
       {_sum(_DEBIT, Account.CLAWBACK_DUE)} AS clawback_due,
       {_sum(_CREDIT, Account.CAPITAL)} AS capital
  FROM entries e JOIN journals j ON j.id = e.journal_id
 WHERE {_AS_OF}
 GROUP BY e.pool_id"""
BOOK_FIGURES = (
    "cash",
    "investments_at_cost",
    "unrealized_value",
    "fees_payable",
    "carry_in_escrow",
    "clawback_due",
)


def recompute_books(as_of: date | None) -> Any:
    """Per pool: its own accounts at their normal sides (BOOK_FIGURES, as read_model.PoolBooks
    names them) and the sum of its investors' capital accounts, as of a day. A subquery."""
    columns = [column("pool_id")] + [column(name, Numeric) for name in (*BOOK_FIGURES, "capital")]
    return text(_BOOKS).bindparams(as_of=as_of).columns(*columns).subquery("books")


def _rows(session: Session, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.execute(text(sql), {"limit": LIMIT, **params})]


def unbalanced_journals(session: Any, limit: int = LIMIT) -> list[tuple[int, str, Decimal]]:
    """Journals whose debits and credits differ in a currency, or that have fewer than two entries."""
    rows = session.execute(
        text(
            f"""
            SELECT j.id, coalesce(e.currency, '?'), coalesce(sum({_DEBIT}), 0)
              FROM journals j LEFT JOIN entries e ON e.journal_id = j.id
             GROUP BY j.id, e.currency
            HAVING coalesce(sum({_DEBIT}), 0) <> 0 OR count(e.id) < 2
             ORDER BY j.id LIMIT :limit
            """
        ),
        {"limit": limit},
    )
    return [(row[0], row[1], row[2]) for row in rows]


def unbalanced_pools(session: Session) -> list[tuple[Any, ...]]:
    """Pools whose books do not balance in a currency."""
    return _rows(
        session,
        f"""SELECT e.pool_id, e.currency, sum({_DEBIT}) FROM entries e
             GROUP BY e.pool_id, e.currency HAVING sum({_DEBIT}) <> 0 LIMIT :limit""",
    )


def negative_balances(session: Session) -> list[tuple[Any, ...]]:
    """Investor positions owing a negative receivable or holding a negative commitment memo."""
    return _rows(
        session,
        f"""SELECT e.pool_id, e.investor_id, e.account, sum({_DEBIT}) FROM entries e
             WHERE e.account IN ('{Account.RECEIVABLE.value}', '{Account.COMMITMENT_MEMO.value}')
             GROUP BY e.pool_id, e.investor_id, e.account HAVING sum({_DEBIT}) < 0 LIMIT :limit""",
    )


def postings_before_commitment(session: Session) -> list[tuple[Any, ...]]:
    """(pool, investor, journal, kind, day, first commitment day) of every investor entry dated
    before that investor's first commitment journal in the pool (or with no commitment at all)."""
    return _rows(
        session,
        f"""WITH committed AS (
                SELECT e.pool_id, e.investor_id, min(j.effective_date) AS day
                  FROM entries e JOIN journals j ON j.id = e.journal_id
                 WHERE j.kind = '{JournalKind.COMMITMENT.value}' AND e.account = '{Account.COMMITMENT.value}'
                 GROUP BY e.pool_id, e.investor_id)
            SELECT DISTINCT e.pool_id, e.investor_id, j.id, j.kind, j.effective_date, c.day
              FROM entries e JOIN journals j ON j.id = e.journal_id
              LEFT JOIN committed c ON c.pool_id = e.pool_id AND c.investor_id = e.investor_id
             WHERE e.investor_id IS NOT NULL AND j.kind <> '{JournalKind.COMMITMENT.value}'
               AND (c.day IS NULL OR j.effective_date < c.day)
             ORDER BY j.id LIMIT :limit""",
    )
