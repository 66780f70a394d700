"""The books: post balanced journals at most once, and read every figure back from them.

Chart of accounts (per pool, in the pool's currency):
- pool level: cash; investments (at cost); unrealized (marks above or below cost); call_clearing
  (the other side of capital called and not yet paid); fee_income (management fees owed to the
  manager).
- investor level: commitment (credit: what they promised) against commitment_memo (its debit
  twin, so the memo pair balances); receivable (debit: called, not yet paid); capital (credit:
  their share of the pool's NAV: contributions paid, less distributions, fees and carry, plus gains).

How each movement is booked (journal kind: entries):
- commitment: Dr commitment_memo(i) / Cr commitment(i)
- capital_call: Dr receivable(i) for each investor / Cr call_clearing (the call's total)
- payment: Dr cash, Cr capital(i) (the contribution); Dr call_clearing, Cr receivable(i)
- management_fee: Dr capital(i) / Cr fee_income
- investment: Dr investments / Cr cash (a purchase); Dr cash / Cr investments, unrealized (an exit)
- valuation: Dr unrealized / Cr capital(i) for a gain; the mirror image for a loss
- distribution: Dr capital(i) / Cr cash (the LP's share); carry: Dr capital(i) / Cr cash (the GP's)
A reversal keeps the kind of the journal it reverses, so statement lines net out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.money import check_currency, quantize
from db.models import INVESTOR_ACCOUNTS, POOL_ACCOUNTS, Entry, Journal, Pool

JOURNAL_KINDS = (
    "commitment",
    "capital_call",
    "payment",
    "management_fee",
    "investment",
    "valuation",
    "distribution",
    "carry",
)
DEBIT, CREDIT = "D", "C"


@dataclass(frozen=True)
class Line:
    account: str
    side: str
    amount: Decimal
    investor_id: int | None = None


def debit(account: str, amount: Decimal, investor_id: int | None = None) -> Line:
    return Line(account, DEBIT, amount, investor_id)


def credit(account: str, amount: Decimal, investor_id: int | None = None) -> Line:
    return Line(account, CREDIT, amount, investor_id)


def check_lines(lines: list[Line], currency: str) -> None:
    """Python's half of the balance rule; the database checks it again at commit."""
    if len(lines) < 2:
        raise ValidationError("lines", "a journal needs at least two entries")
    total = Decimal(0)
    for line in lines:
        if line.side not in (DEBIT, CREDIT):
            raise ValidationError("lines", f"unknown side {line.side!r}")
        if line.account in POOL_ACCOUNTS:
            if line.investor_id is not None:
                raise ValidationError("lines", f"{line.account} is a pool account")
        elif line.account in INVESTOR_ACCOUNTS:
            if line.investor_id is None:
                raise ValidationError("lines", f"{line.account} needs an investor")
        else:
            raise ValidationError("lines", f"unknown account {line.account!r}")
        if not isinstance(line.amount, Decimal) or not line.amount.is_finite() or line.amount <= 0:
            raise ValidationError("amount", "every entry must be a positive Decimal")
        if line.amount != quantize(line.amount, currency):
            raise ValidationError("amount", f"is more precise than {currency} allows")
        total += line.amount if line.side == DEBIT else -line.amount
    if total != 0:
        raise ValidationError("lines", f"debits and credits differ by {total}")


def post(
    session: Session,
    *,
    pool_id: int,
    currency: str,
    kind: str,
    idempotency_key: str,
    effective_date: date,
    lines: list[Line],
    memo: str = "",
    actor_id: int | None = None,
    operation_id: uuid.UUID | None = None,
    reverses_id: int | None = None,
) -> tuple[int, bool]:
    """Post one journal; (journal id, True) if new, (the first one's id, False) if the key was seen."""
    check_currency(currency)
    if kind not in JOURNAL_KINDS:
        raise ValidationError("kind", f"unknown journal kind {kind!r}")
    check_lines(lines, currency)
    journal_id = session.execute(
        pg_insert(Journal)
        .values(
            idempotency_key=idempotency_key,
            pool_id=pool_id,
            kind=kind,
            memo=memo[:500],
            effective_date=effective_date,
            actor_id=actor_id,
            operation_id=operation_id,
            reverses_id=reverses_id,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Journal.id)
    ).scalar_one_or_none()
    if journal_id is None:
        existing = session.execute(
            select(Journal.id).where(Journal.idempotency_key == idempotency_key)
        ).scalar_one()
        return existing, False
    # One INSERT ... SELECT FROM unnest for all lines: a single statement, so the per-statement
    # journal-open trigger fires once per journal, not once per entry (an executemany would).
    session.execute(
        text(
            """INSERT INTO entries (journal_id, pool_id, investor_id, account, currency, side, amount)
               SELECT :journal, :pool, line.investor, line.account, :currency, line.side, line.amount
                 FROM unnest(CAST(:investors AS bigint[]), CAST(:accounts AS text[]),
                             CAST(:sides AS text[]), CAST(:amounts AS numeric[]))
                      WITH ORDINALITY AS line(investor, account, side, amount, n)
                ORDER BY line.n"""
        ),
        {
            "journal": journal_id,
            "pool": pool_id,
            "currency": currency,
            "investors": [line.investor_id for line in lines],
            "accounts": [line.account for line in lines],
            "sides": [line.side for line in lines],
            "amounts": [line.amount for line in lines],
        },
    )
    bump_version(session, pool_id)
    return journal_id, True


def reverse(
    session: Session,
    journal_id: int,
    *,
    idempotency_key: str,
    effective_date: date,
    memo: str,
    actor_id: int | None,
) -> tuple[int, bool]:
    """Correct a mistake the only way an append-only ledger allows: a mirror-image journal."""
    journal = session.get(Journal, journal_id)
    if journal is None or journal.pool_id is None:
        raise ValidationError("journal_id", "no such journal")
    rows = session.execute(select(Entry).where(Entry.journal_id == journal_id)).scalars().all()
    lines = [
        Line(row.account, CREDIT if row.side == DEBIT else DEBIT, row.amount, row.investor_id) for row in rows
    ]
    return post(
        session,
        pool_id=journal.pool_id,
        currency=rows[0].currency,
        kind=journal.kind,
        idempotency_key=idempotency_key,
        effective_date=effective_date,
        lines=lines,
        memo=memo,
        actor_id=actor_id,
        reverses_id=journal_id,
    )


def bump_version(session: Session, pool_id: int) -> None:
    session.execute(update(Pool).where(Pool.id == pool_id).values(version=Pool.version + 1))


SIGNED = case((Entry.side == DEBIT, Entry.amount), else_=-Entry.amount)


def balances(
    session: Session, pool_id: int, investor_id: int | None = None
) -> dict[tuple[str, int | None], Decimal]:
    """Debit-positive balance of each (account, investor) of a pool, straight from the entries."""
    query = (
        select(Entry.account, Entry.investor_id, func.sum(SIGNED))
        .where(Entry.pool_id == pool_id)
        .group_by(Entry.account, Entry.investor_id)
    )
    if investor_id is not None:
        query = query.where(Entry.investor_id == investor_id)
    return {(account, inv): total for account, inv, total in session.execute(query)}


def unbalanced_journals(session: Session, limit: int = 20) -> list[tuple[int, str, Decimal]]:
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
