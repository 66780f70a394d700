"""The ledger's own invariants, read straight from the entries, for `python -m core verify`."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session


def unbalanced_journals(session: Session, limit: int = 20) -> list[tuple[int, str, Decimal]]:
    """Journals whose debits and credits differ in a currency, or that have fewer than two entries."""
    rows = session.execute(
        text(
            """
            SELECT j.id, coalesce(e.currency, '?'),
                   coalesce(sum(CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END), 0)
              FROM journals j LEFT JOIN entries e ON e.journal_id = j.id
             GROUP BY j.id, e.currency
            HAVING coalesce(sum(CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END), 0) <> 0
                OR count(e.id) < 2
             ORDER BY j.id LIMIT :limit
            """
        ),
        {"limit": limit},
    )
    return [(row[0], row[1], row[2]) for row in rows]
