"""Posting: balanced journals written at most once (by idempotency key), and reversals.

Python checks each journal's shape and balance; the database checks them again (CHECK
constraints, a deferred balance trigger, append-only triggers). See core.ledger.accounts for what
each journal kind books.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.ledger.accounts import Account, JournalKind, Side
from core.money import check_currency, quantize
from db.models import Entry, Journal, Pool

DEBIT, CREDIT = Side.DEBIT, Side.CREDIT


@dataclass(frozen=True)
class Leg:
    """One entry to write: an amount on one side of one account (an investor's, or the pool's)."""

    account: Account
    side: Side
    amount: Decimal
    investor_id: int | None = None


def debit(account: Account, amount: Decimal, investor_id: int | None = None) -> Leg:
    return Leg(account, DEBIT, amount, investor_id)


def credit(account: Account, amount: Decimal, investor_id: int | None = None) -> Leg:
    return Leg(account, CREDIT, amount, investor_id)


def legs(side: Side, account: Account, amounts: list[tuple[int, Decimal]]) -> list[Leg]:
    """One leg per investor with a non-zero amount: the investor half of a pro-rata journal."""
    return [Leg(account, side, amount, investor) for investor, amount in amounts if amount != 0]


def check_lines(lines: list[Leg], currency: str) -> None:
    """Python's half of the balance rule; the database checks it again at commit."""
    if len(lines) < 2:
        raise ValidationError("lines", "a journal needs at least two entries")
    total = Decimal(0)
    for line in lines:
        if line.side not in (DEBIT, CREDIT):
            raise ValidationError("lines", f"unknown side {line.side!r}")
        if line.account not in set(Account):
            raise ValidationError("lines", f"unknown account {line.account!r}")
        if Account(line.account).per_investor != (line.investor_id is not None):
            raise ValidationError(
                "lines",
                f"{line.account} "
                + ("needs an investor" if line.investor_id is None else "is a pool account"),
            )
        if not isinstance(line.amount, Decimal) or not line.amount.is_finite() or line.amount <= 0:
            raise ValidationError("amount", "every entry must be a positive Decimal")
        if line.amount != quantize(line.amount, currency):
            raise ValidationError("amount", f"is more precise than {currency} allows")
        total += line.amount if line.side == DEBIT else -line.amount
    if total != 0:
        raise ValidationError("lines", f"debits and credits differ by {total}")


@dataclass(frozen=True)
class Posting:
    """One journal to post: post_many() writes many of them in a handful of statements."""

    pool_id: int
    currency: str
    kind: JournalKind
    idempotency_key: str
    effective_date: date
    lines: list[Leg]
    memo: str = ""
    actor_id: int | None = None
    operation_id: uuid.UUID | None = None
    reverses_id: int | None = None


def post(
    session: Session,
    *,
    pool_id: int,
    currency: str,
    kind: JournalKind,
    idempotency_key: str,
    effective_date: date,
    lines: list[Leg],
    memo: str = "",
    actor_id: int | None = None,
    operation_id: uuid.UUID | None = None,
    reverses_id: int | None = None,
) -> tuple[int, bool]:
    """Post one journal; (journal id, True) if new, (the first one's id, False) if the key was seen."""
    posting = Posting(
        pool_id,
        currency,
        kind,
        idempotency_key,
        effective_date,
        lines,
        memo,
        actor_id,
        operation_id,
        reverses_id,
    )
    return post_many(session, [posting])[0]


def post_many(session: Session, postings: list[Posting]) -> list[tuple[int, bool]]:
    """Post journals, each at most once (by idempotency key): per journal (its id, True if new).

    Three statements whatever the count: the journals, then every entry in one INSERT ... SELECT
    FROM unnest (a single statement, so the per-statement journal-open trigger fires once), then
    one version bump per pool. The database checks each journal's balance at commit."""
    for posting in postings:
        check_lines(posting.lines, posting.currency)
    inserted, results = _journals(session, postings)
    lines = [
        (inserted[p.idempotency_key], p, line)
        for p in postings
        if p.idempotency_key in inserted
        for line in p.lines
    ]
    if lines:
        session.execute(
            text(
                f"""INSERT INTO entries ({_ENTRY_COLUMNS})
                    SELECT line.journal, line.pool, line.investor, line.account, line.currency, line.side,
                           line.amount, line.kind, line.day
                      FROM unnest(CAST(:journals AS bigint[]), CAST(:pools AS bigint[]),
                                  CAST(:investors AS bigint[]), CAST(:accounts AS text[]),
                                  CAST(:currencies AS text[]), CAST(:sides AS text[]),
                                  CAST(:amounts AS numeric[]), CAST(:kinds AS text[]), CAST(:days AS date[]))
                           WITH ORDINALITY
                           AS line(journal, pool, investor, account, currency, side, amount, kind, day, n)
                     ORDER BY line.n"""
            ),
            {
                "journals": [journal_id for journal_id, _, _ in lines],
                "pools": [p.pool_id for _, p, _ in lines],
                "investors": [line.investor_id for _, _, line in lines],
                "accounts": [line.account for _, _, line in lines],
                "currencies": [p.currency for _, p, _ in lines],
                "sides": [line.side for _, _, line in lines],
                "amounts": [line.amount for _, _, line in lines],
                "kinds": [p.kind for _, p, _ in lines],
                "days": [p.effective_date for _, p, _ in lines],
            },
        )
    return results


def post_query(session: Session, posting: Posting, lines_sql: str, params: dict[str, object]) -> int:
    """Post one journal whose entries a query makes, as rows of (investor_id, account, side, amount),
    so a capital call's 20,000 receivables go from call_items to entries without a trip through
    Python. posting.lines must be empty. The number of entries written (0 if the key was seen).

    The rules check_lines applies in Python are here the database's: the accounts, sides and
    positive amounts by the entries' CHECK constraints, the balance by the deferred trigger."""
    if posting.lines:
        raise ValidationError("lines", "a query posting takes its lines from the query")
    inserted, _ = _journals(session, [posting])
    if not inserted:
        return 0
    result: Any = session.execute(
        text(
            f"""INSERT INTO entries ({_ENTRY_COLUMNS})
                SELECT :journal, :pool, line.investor_id, line.account, :currency, line.side, line.amount,
                       :kind, CAST(:day AS date)
                  FROM ({lines_sql}) AS line(investor_id, account, side, amount)"""
        ),
        {
            **params,
            "journal": inserted[posting.idempotency_key],
            "pool": posting.pool_id,
            "currency": posting.currency,
            "kind": posting.kind,
            "day": posting.effective_date,
        },
    )
    return int(result.rowcount)


# kind and day are the journal's, written with each entry so the read model reads entries alone.
_ENTRY_COLUMNS = "journal_id, pool_id, investor_id, account, currency, side, amount, kind, day"


def _journals(session: Session, postings: list[Posting]) -> tuple[dict[str, int], list[tuple[int, bool]]]:
    """Insert the journal rows whose keys are new and bump their pools' versions: the ids of the
    new ones by key, and (id, new?) per posting, in order."""
    if not postings:
        return {}, []
    for posting in postings:
        check_currency(posting.currency)
        if posting.kind not in set(JournalKind):
            raise ValidationError("kind", f"unknown journal kind {posting.kind!r}")
    keys = [posting.idempotency_key for posting in postings]
    if len(set(keys)) != len(keys):
        raise ValidationError("idempotency_key", "the same journal twice in one posting")
    # One statement over arrays (like the entries): a multi-row VALUES would be compiled afresh for
    # every group size, which cost more than the insert itself.
    inserted: dict[str, int] = dict(
        session.execute(
            text(
                """INSERT INTO journals (idempotency_key, pool_id, kind, memo, effective_date, actor_id,
                                         operation_id, reverses_id)
                   SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:pools AS bigint[]),
                                        CAST(:kinds AS text[]), CAST(:memos AS text[]),
                                        CAST(:dates AS date[]), CAST(:actors AS bigint[]),
                                        CAST(:operations AS uuid[]), CAST(:reverses AS bigint[]))
                   ON CONFLICT (idempotency_key) DO NOTHING
                   RETURNING idempotency_key, id"""
            ),
            {
                "keys": keys,
                "pools": [p.pool_id for p in postings],
                "kinds": [p.kind for p in postings],
                "memos": [p.memo[:500] for p in postings],
                "dates": [p.effective_date for p in postings],
                "actors": [p.actor_id for p in postings],
                "operations": [p.operation_id for p in postings],
                "reverses": [p.reverses_id for p in postings],
            },
        ).all()
    )
    seen = {}
    if len(inserted) < len(postings):
        seen = dict(
            session.execute(
                select(Journal.idempotency_key, Journal.id).where(
                    Journal.idempotency_key.in_([k for k in keys if k not in inserted])
                )
            ).all()
        )
    bump_versions(session, {p.pool_id for p in postings if p.idempotency_key in inserted})
    return inserted, [(inserted[k], True) if k in inserted else (seen[k], False) for k in keys]


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
    lines = [Leg(Account(row.account), Side(row.side).opposite, row.amount, row.investor_id) for row in rows]
    return post(
        session,
        pool_id=journal.pool_id,
        currency=rows[0].currency,
        kind=JournalKind(journal.kind),
        idempotency_key=idempotency_key,
        effective_date=effective_date,
        lines=lines,
        memo=memo,
        actor_id=actor_id,
        reverses_id=journal_id,
    )


def bump_version(session: Session, pool_id: int) -> None:
    """Tell caches and live pages the pool changed."""
    session.execute(update(Pool).where(Pool.id == pool_id).values(version=Pool.version + 1))


def bump_versions(session: Session, pool_ids: set[int]) -> None:
    """In id order, so two workers posting to the same pools never deadlock."""
    for pool_id in sorted(pool_ids):
        bump_version(session, pool_id)
