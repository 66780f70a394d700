"""waterfall terms per pool (hurdle accrual, carry escrow), and the escrow and clawback accounts

- pools.hurdle_accrual: 'compound' (the default, what every pool has used so far) or 'simple'.
- pools.escrow_rate: the share of each carry payment held back in the pool's cash until the
  clawback risk clears (0, the default: none held).
- entries.account may be carry_escrow or clawback_due (pool-level accounts, no investor): the checks
  are replaced NOT VALID, and validated after this migration's transaction has committed (the scan
  takes a SHARE UPDATE EXCLUSIVE lock, so postings go on meanwhile).
- ledger_line_map: carry_escrow feeds the pool's carry_in_escrow line, clawback_due its
  clawback_due line (carry the GP owes back after the wind-down true-up), whatever the journal.

Safe during a rolling deploy: columns with constant defaults (no rewrite); the previous release
never writes the new account, and it reads the pool rows it knows.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The vocabulary as of this revision, frozen here (a migration never imports the application).
_KINDS = (
    "commitment",
    "capital_call",
    "payment",
    "management_fee",
    "fund_expense",
    "investment",
    "valuation",
    "exit",
    "distribution",
    "carry",
)
_POOL = ("cash", "investments", "unrealized", "call_clearing", "fee_income")
_INVESTOR = ("commitment", "commitment_memo", "receivable", "capital")


def _accounts(pool: tuple[str, ...]) -> tuple[str, str]:
    quoted = ", ".join(f"'{a}'" for a in pool)
    every = ", ".join(f"'{a}'" for a in (*pool, *_INVESTOR))
    return f"account IN ({every})", f"(investor_id IS NULL) = (account IN ({quoted}))"


def _replace_checks(pool: tuple[str, ...]) -> None:
    account, owner = _accounts(pool)
    op.execute("ALTER TABLE entries DROP CONSTRAINT ck_entries_account")
    op.execute("ALTER TABLE entries DROP CONSTRAINT ck_entries_account_owner")
    op.execute(f"ALTER TABLE entries ADD CONSTRAINT ck_entries_account CHECK ({account}) NOT VALID")
    op.execute(f"ALTER TABLE entries ADD CONSTRAINT ck_entries_account_owner CHECK ({owner}) NOT VALID")


def _validate_checks() -> None:
    with op.get_context().autocommit_block():
        op.execute("ALTER TABLE entries VALIDATE CONSTRAINT ck_entries_account")
        op.execute("ALTER TABLE entries VALIDATE CONSTRAINT ck_entries_account_owner")


def upgrade() -> None:
    op.add_column(
        "pools", sa.Column("hurdle_accrual", sa.String(length=10), server_default="compound", nullable=False)
    )
    op.add_column(
        "pools",
        sa.Column("escrow_rate", sa.Numeric(precision=9, scale=6), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_pools_hurdle_accrual"), "pools", "hurdle_accrual IN ('compound', 'simple')"
    )
    op.create_check_constraint(op.f("ck_pools_escrow_rate"), "pools", "escrow_rate BETWEEN 0 AND 1")
    _replace_checks((*_POOL, "carry_escrow", "clawback_due"))
    line_map = sa.table(
        "ledger_line_map",
        sa.column("kind", sa.String),
        sa.column("account", sa.String),
        sa.column("line", sa.String),
        sa.column("side", sa.String),
    )
    op.bulk_insert(
        line_map,
        [
            {"kind": kind, "account": account, "line": line, "side": side}
            for kind in _KINDS
            for account, line, side in (
                ("carry_escrow", "carry_in_escrow", "C"),
                ("clawback_due", "clawback_due", "D"),
            )
        ],
    )
    _validate_checks()


def downgrade() -> None:
    op.execute("DELETE FROM ledger_line_map WHERE account IN ('carry_escrow', 'clawback_due')")
    _replace_checks(_POOL)
    _validate_checks()
    op.drop_constraint(op.f("ck_pools_escrow_rate"), "pools", type_="check")
    op.drop_constraint(op.f("ck_pools_hurdle_accrual"), "pools", type_="check")
    op.drop_column("pools", "escrow_rate")
    op.drop_column("pools", "hurdle_accrual")
