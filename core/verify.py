"""`python -m core verify`: every ledger invariant, and every stored figure against the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.fundmath import capital_account
from core.ledger import JournalKind
from core.ledger.checks import unbalanced_journals
from core.positions import _movement  # the same (kind, account) -> statement line map

JOURNAL_KINDS = tuple(JournalKind)

STATEMENTS = "every investor's capital account statement ends at the ledger's capital balance and commitment"

# Each check is one set-based query returning the violating rows (at most a handful shown).
CHECKS: dict[str, str] = {
    "entries carry their pool's currency": """
        SELECT e.journal_id, e.currency, p.currency FROM entries e JOIN pools p ON p.id = e.pool_id
         WHERE e.currency <> p.currency LIMIT 20""",
    "entries belong to their journal's pool": """
        SELECT e.id, e.pool_id, j.pool_id FROM entries e LEFT JOIN journals j ON j.id = e.journal_id
         WHERE j.id IS NULL OR j.pool_id IS DISTINCT FROM e.pool_id LIMIT 20""",
    "entries name existing investors": """
        SELECT e.id, e.investor_id FROM entries e LEFT JOIN users u ON u.id = e.investor_id
         WHERE e.investor_id IS NOT NULL AND u.id IS NULL LIMIT 20""",
    "each pool's books balance": """
        SELECT pool_id, currency, sum(CASE side WHEN 'D' THEN amount ELSE -amount END)
          FROM entries GROUP BY pool_id, currency
        HAVING sum(CASE side WHEN 'D' THEN amount ELSE -amount END) <> 0 LIMIT 20""",
    "accepted commitments equal the commitment account": """
        WITH booked AS (
            SELECT pool_id, investor_id, sum(CASE side WHEN 'C' THEN amount ELSE -amount END) AS amount
              FROM entries WHERE account = 'commitment' GROUP BY pool_id, investor_id),
        accepted AS (
            SELECT pool_id, investor_id, sum(amount_accepted) AS amount
              FROM commitments WHERE status = 'accepted' GROUP BY pool_id, investor_id)
        SELECT coalesce(a.pool_id, b.pool_id), coalesce(a.investor_id, b.investor_id), a.amount, b.amount
          FROM accepted a FULL JOIN booked b USING (pool_id, investor_id)
         WHERE coalesce(a.amount, 0) <> coalesce(b.amount, 0) LIMIT 20""",
    "accepted commitments stay within the hard cap": """
        SELECT p.id, p.hard_cap, sum(c.amount_accepted) FROM pools p JOIN commitments c ON c.pool_id = p.id
         WHERE c.status = 'accepted' GROUP BY p.id, p.hard_cap
        HAVING sum(c.amount_accepted) > p.hard_cap LIMIT 20""",
    "call items name a commitment of their pool and its investor": """
        SELECT i.id, i.commitment_id, i.investor_id FROM call_items i
          JOIN capital_calls c ON c.id = i.call_id
          LEFT JOIN commitments m ON m.id = i.commitment_id
          LEFT JOIN users u ON u.id = i.investor_id
         WHERE m.id IS NULL OR u.id IS NULL OR m.investor_id <> i.investor_id OR m.pool_id <> c.pool_id
         LIMIT 20""",
    "call items due equal what the issued calls booked": """
        WITH booked AS (
            SELECT c.id AS call_id, e.investor_id,
                   sum(CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END) AS amount
              FROM entries e
              JOIN journals j ON j.id = e.journal_id
              JOIN capital_calls c ON c.operation_id = j.operation_id
             WHERE j.kind = 'capital_call' AND e.account = 'receivable' AND c.status = 'issued'
             GROUP BY c.id, e.investor_id),
        due AS (
            SELECT i.call_id, i.investor_id, sum(i.amount_due) AS amount
              FROM call_items i JOIN capital_calls c ON c.id = i.call_id
             WHERE c.status = 'issued' GROUP BY i.call_id, i.investor_id)
        SELECT coalesce(d.call_id, b.call_id), coalesce(d.investor_id, b.investor_id), d.amount, b.amount
          FROM due d FULL JOIN booked b USING (call_id, investor_id)
         WHERE coalesce(d.amount, 0) <> coalesce(b.amount, 0) LIMIT 20""",
    "call items paid equal the payments in the ledger": """
        WITH booked AS (
            SELECT e.pool_id, e.investor_id, sum(CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END) AS amount
              FROM entries e JOIN journals j ON j.id = e.journal_id
             WHERE j.kind = 'payment' AND e.account = 'capital' GROUP BY e.pool_id, e.investor_id),
        paid AS (
            SELECT c.pool_id, i.investor_id, sum(i.amount_paid) AS amount
              FROM call_items i JOIN capital_calls c ON c.id = i.call_id
             WHERE i.amount_paid > 0 GROUP BY c.pool_id, i.investor_id)
        SELECT coalesce(p.pool_id, b.pool_id), coalesce(p.investor_id, b.investor_id), p.amount, b.amount
          FROM paid p FULL JOIN booked b USING (pool_id, investor_id)
         WHERE coalesce(p.amount, 0) <> coalesce(b.amount, 0) LIMIT 20""",
    "no investor owes a negative receivable or holds negative unfunded commitment": """
        SELECT pool_id, investor_id, account, sum(CASE side WHEN 'D' THEN amount ELSE -amount END)
          FROM entries WHERE account IN ('receivable', 'commitment_memo')
         GROUP BY pool_id, investor_id, account
        HAVING sum(CASE side WHEN 'D' THEN amount ELSE -amount END) < 0 LIMIT 20""",
    "capital called never exceeds the commitment": """
        SELECT e.pool_id, e.investor_id FROM entries e JOIN journals j ON j.id = e.journal_id
         WHERE e.account = 'commitment' OR (j.kind = 'capital_call' AND e.account = 'receivable')
         GROUP BY e.pool_id, e.investor_id
        HAVING sum(CASE WHEN e.account = 'commitment' THEN
                        CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END ELSE 0 END)
             < sum(CASE WHEN e.account = 'receivable' THEN
                        CASE e.side WHEN 'D' THEN e.amount ELSE -e.amount END ELSE 0 END) LIMIT 20""",
}


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    violations: dict[str, list[tuple]] = field(default_factory=dict)
    positions_checked: int = 0  # investor positions whose statement was built and compared
    positions_total: int = 0  # investor positions in the ledger

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def sampled(self) -> bool:
        return self.positions_checked < self.positions_total

    def summary(self) -> str:
        lines = [", ".join(f"{name}: {count:,}" for name, count in self.counts.items())]
        lines.append("checks:")
        for name in ["every journal balances per currency with at least two entries", *CHECKS, STATEMENTS]:
            found = self.violations.get(name)
            lines.append(f"  {'FAIL' if found else 'ok  '} {name}")
            for row in (found or [])[:5]:
                lines.append(f"         {row}")
            if name == STATEMENTS and found and len(found) > 5:
                lines.append(f"         ... and {len(found) - 5:,} more positions")
        lines.append(
            f"capital accounts checked: {self.positions_checked:,} of {self.positions_total:,} investor positions"
            + (" (a random sample)" if self.sampled else "")
        )
        lines.append("ledger verified: OK" if self.ok else "ledger verified: VIOLATIONS FOUND")
        return "\n".join(lines)


# One row per investor position: its ledger balances (capital, commitment) and, per journal kind
# and account, the sums a statement is built from. Pivoted in SQL so a book of 100,000 investors
# comes back as one row per position, not one per movement.
_STATEMENT_SOURCES = [(kind, account) for kind in JOURNAL_KINDS for account in ("commitment", "capital")]
_CREDIT = "CASE e.side WHEN 'C' THEN e.amount ELSE -e.amount END"
_STATEMENT_SUMS = ",\n           ".join(
    f"sum({_CREDIT}) FILTER (WHERE j.kind = '{kind}' AND e.account = '{account}')"
    for kind, account in _STATEMENT_SOURCES
)
_POSITION_MOVEMENTS = f"""
    SELECT e.pool_id, e.investor_id, min(j.effective_date),
           coalesce(sum({_CREDIT}) FILTER (WHERE e.account = 'capital'), 0),
           coalesce(sum({_CREDIT}) FILTER (WHERE e.account = 'commitment'), 0),
           {_STATEMENT_SUMS}
      FROM entries e JOIN journals j ON j.id = e.journal_id
     WHERE e.investor_id IS NOT NULL AND e.account IN ('commitment', 'capital') {{only}}
     GROUP BY e.pool_id, e.investor_id"""
_POSITIONS = """
    SELECT DISTINCT pool_id, investor_id FROM entries
     WHERE investor_id IS NOT NULL AND account IN ('commitment', 'capital')"""


def _capital_accounts(session: Session, report: Report, sample: int | None) -> list[tuple]:
    """Every investor position's statement (core.fundmath.capital_account over its ledger movements,
    mapped to statement lines as core.positions.investor_flows maps them) must end at the capital
    balance the ledger holds and show the commitment the ledger holds. A movement the statement has
    no line for (a journal kind it does not know) therefore shows up as a difference.
    With `sample`, only that many positions, picked at random."""
    params: dict[str, int] = {}
    only = ""
    total = None  # counted in the pass itself unless only a sample is read
    if sample is not None:
        total = session.execute(text(f"SELECT count(*) FROM ({_POSITIONS}) p")).scalar_one()
        if sample < total:
            only = (
                "AND (e.pool_id, e.investor_id) IN "
                f"(SELECT * FROM ({_POSITIONS}) p ORDER BY random() LIMIT :sample)"
            )
            params["sample"] = sample
    rows = session.execute(
        text(_POSITION_MOVEMENTS.format(only=only)), params, execution_options={"yield_per": 20_000}
    )
    wrong = []
    checked = 0
    for pool_id, investor_id, when, capital, commitment, *sums in rows:
        checked += 1
        movements = [
            movement
            for (kind, account), credit in zip(_STATEMENT_SOURCES, sums, strict=True)
            if credit is not None and (movement := _movement(when, kind, account, credit)) is not None
        ]
        if not movements:
            wrong.append((pool_id, investor_id, capital, None))
            continue
        statement = capital_account(movements, when, date.max)
        if statement.ending_nav != capital or statement.total_commitment != commitment:
            wrong.append(
                (pool_id, investor_id, capital, statement.ending_nav, commitment, statement.total_commitment)
            )
    report.positions_checked = checked
    report.positions_total = checked if total is None else total
    return wrong


def verify(session: Session, *, statement_sample: int | None = None) -> Report:
    """Every check over the whole database. statement_sample=N builds the capital account statements
    of N random investor positions only (the summary says so); by default every one is built."""
    report = Report()
    for table in ("users", "pools", "commitments", "journals", "entries", "call_items", "operations"):
        report.counts[table] = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    unbalanced = unbalanced_journals(session)
    if unbalanced:
        report.violations["every journal balances per currency with at least two entries"] = unbalanced
    for name, query in CHECKS.items():
        rows = [tuple(row) for row in session.execute(text(query))]
        if rows:
            report.violations[name] = rows
    statements = _capital_accounts(session, report, statement_sample)
    if statements:
        report.violations[STATEMENTS] = statements
    return report
