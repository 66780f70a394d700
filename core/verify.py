"""`python -m core verify`: every ledger invariant, and every stored figure against the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.fundmath import capital_account
from core.ledger import unbalanced_journals
from core.positions import investor_flows

STATEMENTS = "capital account statements end at the ledger's capital balance"

# Each check is one set-based query returning the violating rows (at most a handful shown).
CHECKS: dict[str, str] = {
    "entries carry their pool's currency": """
        SELECT e.journal_id, e.currency, p.currency FROM entries e JOIN pools p ON p.id = e.pool_id
         WHERE e.currency <> p.currency LIMIT 20""",
    "entries belong to their journal's pool": """
        SELECT e.id, e.pool_id, j.pool_id FROM entries e JOIN journals j ON j.id = e.journal_id
         WHERE j.pool_id IS DISTINCT FROM e.pool_id LIMIT 20""",
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

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        lines = [", ".join(f"{name}: {count:,}" for name, count in self.counts.items())]
        lines.append("checks:")
        for name in ["every journal balances per currency with at least two entries", *CHECKS, STATEMENTS]:
            found = self.violations.get(name)
            lines.append(f"  {'FAIL' if found else 'ok  '} {name}")
            for row in (found or [])[:5]:
                lines.append(f"         {row}")
        lines.append("ledger verified: OK" if self.ok else "ledger verified: VIOLATIONS FOUND")
        return "\n".join(lines)


def _capital_accounts(session: Session, sample: int) -> list[tuple]:
    """Statements (core.fundmath.capital_account over the investor's ledger movements) must end at
    the capital balance the ledger holds, for every investor, or the first `sample` of a big book."""
    pairs = session.execute(
        text(
            """SELECT pool_id, investor_id, sum(CASE side WHEN 'C' THEN amount ELSE -amount END)
                 FROM entries WHERE account = 'capital' GROUP BY pool_id, investor_id
                ORDER BY pool_id, investor_id LIMIT :sample"""
        ),
        {"sample": sample},
    ).all()
    wrong = []
    for pool_id, investor_id, balance in pairs:
        flows = investor_flows(session, pool_id, investor_id)
        if not flows:
            wrong.append((pool_id, investor_id, balance, None))
            continue
        statement = capital_account(flows, min(f[0] for f in flows), date.max)
        if statement.ending_nav != balance:
            wrong.append((pool_id, investor_id, balance, statement.ending_nav))
    return wrong


def verify(session: Session, *, statement_sample: int = 5000) -> Report:
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
    statements = _capital_accounts(session, statement_sample)
    if statements:
        report.violations[STATEMENTS] = statements
    return report
