"""domain facts in tables of their own, row versions for forms, a call's number and paid statuses

- portfolio_companies, investments, marks, exits, payments, fee_charges and distributions: the
  facts a journal books, written in the journal's transaction (screens read these, never an
  operation's payload). A correction reverses the journals and marks the fact reversed.
- version on users, commitments, capital_calls and call_items: a form carries the version it
  showed; a submission against a row that changed since is refused.
- capital_calls.number (the pool's first, second, ... call) and the statuses partially_paid and
  paid, which a call takes as its items are paid.

Backfilled from what earlier releases recorded: payments, fee charges, distributions and purchases
from their done operations, call numbers and call statuses from the items. Earlier whole-portfolio
valuations and exits cannot be told apart by company and are not carried into marks and exits.

Safe during a rolling deploy: new tables and columns with constant defaults (no rewrite); the
status check is widened NOT VALID and then validated, which scans without blocking writes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 06:39:35.808582+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CALL_STATUSES = "status IN ('issuing', 'issued', 'partially_paid', 'paid', 'cancelled')"

BACKFILL = """
UPDATE capital_calls c SET number = n.number
  FROM (SELECT id, row_number() OVER (PARTITION BY pool_id ORDER BY call_date, id) AS number
          FROM capital_calls) n
 WHERE n.id = c.id;

UPDATE capital_calls c SET status = CASE WHEN s.unpaid = 0 THEN 'paid' ELSE 'partially_paid' END
  FROM (SELECT call_id, count(*) FILTER (WHERE status IN ('open', 'partially_paid')) AS unpaid,
               count(*) FILTER (WHERE status IN ('paid', 'partially_paid')) AS touched
          FROM call_items GROUP BY call_id) s
 WHERE s.call_id = c.id AND c.status = 'issued' AND s.touched > 0;

INSERT INTO payments (pool_id, call_item_id, investor_id, amount, reference, paid_on, operation_id)
SELECT o.pool_id, (o.payload->>'call_item_id')::bigint, i.investor_id, (o.payload->>'amount')::numeric,
       coalesce(o.payload->>'reference', ''), (o.payload->>'paid_on')::date, o.id
  FROM operations o JOIN call_items i ON i.id = (o.payload->>'call_item_id')::bigint
 WHERE o.kind = 'payment' AND o.status = 'done';

INSERT INTO fee_charges (pool_id, period_start, period_end, total, operation_id)
SELECT o.pool_id, (o.payload->>'period_start')::date, (o.payload->>'period_end')::date,
       coalesce((SELECT sum(e.amount) FROM journals j JOIN entries e ON e.journal_id = j.id
                  WHERE j.operation_id = o.id AND e.account = 'fee_income'), 0), o.id
  FROM operations o WHERE o.kind = 'management_fee' AND o.status = 'done';

INSERT INTO distributions (pool_id, proceeds, lp_total, gp_total, distributed_on, memo, operation_id)
SELECT o.pool_id, (o.payload->>'proceeds')::numeric,
       coalesce((SELECT sum(e.amount) FROM journals j JOIN entries e ON e.journal_id = j.id
                  WHERE j.operation_id = o.id AND j.kind = 'distribution' AND e.account = 'cash'), 0),
       coalesce((SELECT sum(e.amount) FROM journals j JOIN entries e ON e.journal_id = j.id
                  WHERE j.operation_id = o.id AND j.kind = 'carry' AND e.account = 'cash'), 0),
       (o.payload->>'date')::date, coalesce(o.payload->>'memo', ''), o.id
  FROM operations o WHERE o.kind = 'distribution' AND o.status = 'done';

INSERT INTO portfolio_companies (pool_id, name)
SELECT DISTINCT o.pool_id, o.payload->>'company'
  FROM operations o WHERE o.kind = 'investment' AND o.status = 'done' AND o.payload->>'action' = 'buy';

INSERT INTO investments (pool_id, company_id, amount, invested_on, operation_id)
SELECT o.pool_id, c.id, (o.payload->>'amount')::numeric, (o.payload->>'date')::date, o.id
  FROM operations o JOIN portfolio_companies c ON c.pool_id = o.pool_id AND c.name = o.payload->>'company'
 WHERE o.kind = 'investment' AND o.status = 'done' AND o.payload->>'action' = 'buy';
"""


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("call_item_id", sa.BigInteger(), nullable=False),
        sa.Column("investor_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("reference", sa.String(length=100), server_default="", nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_payments_operation_id")),
    )
    op.create_index("ix_payments_call_item_id", "payments", ["call_item_id"], unique=False)
    op.create_index("ix_payments_pool_id_reference", "payments", ["pool_id", "reference"], unique=False)
    op.create_table(
        "distributions",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("proceeds", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("lp_total", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("gp_total", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("distributed_on", sa.Date(), nullable=False),
        sa.Column("memo", sa.String(length=200), server_default="", nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_distributions_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distributions")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_distributions_operation_id")),
    )
    op.create_index(op.f("ix_distributions_pool_id"), "distributions", ["pool_id"], unique=False)
    op.create_table(
        "fee_charges",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("total", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_fee_charges_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_charges")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_fee_charges_operation_id")),
    )
    op.create_index(op.f("ix_fee_charges_pool_id"), "fee_charges", ["pool_id"], unique=False)
    op.create_table(
        "portfolio_companies",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_portfolio_companies_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_companies")),
    )
    op.create_index(
        "uq_portfolio_companies_pool_id_name", "portfolio_companies", ["pool_id", "name"], unique=True
    )
    op.create_table(
        "exits",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("proceeds", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("released", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("exited_on", sa.Date(), nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("proceeds >= 0 AND cost > 0", name=op.f("ck_exits_amounts")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["portfolio_companies.id"], name=op.f("fk_exits_company_id_portfolio_companies")
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_exits_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exits")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_exits_operation_id")),
    )
    op.create_index(op.f("ix_exits_pool_id"), "exits", ["pool_id"], unique=False)
    op.create_table(
        "investments",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("invested_on", sa.Date(), nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_investments_amount")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["portfolio_companies.id"],
            name=op.f("fk_investments_company_id_portfolio_companies"),
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_investments_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investments")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_investments_operation_id")),
    )
    op.create_index(op.f("ix_investments_pool_id"), "investments", ["pool_id"], unique=False)
    op.create_table(
        "marks",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("change", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("marked_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), server_default="", nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=True),
        sa.Column("reversed_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_marks_value")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["portfolio_companies.id"], name=op.f("fk_marks_company_id_portfolio_companies")
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_marks_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marks")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_marks_operation_id")),
    )
    op.create_index(op.f("ix_marks_pool_id"), "marks", ["pool_id"], unique=False)
    op.add_column("call_items", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("capital_calls", sa.Column("number", sa.Integer(), server_default="0", nullable=False))
    op.add_column("capital_calls", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("commitments", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("users", sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))
    op.execute("ALTER TABLE capital_calls DROP CONSTRAINT ck_capital_calls_status")
    op.execute(
        f"ALTER TABLE capital_calls ADD CONSTRAINT ck_capital_calls_status CHECK ({CALL_STATUSES}) NOT VALID"
    )
    op.execute("ALTER TABLE capital_calls VALIDATE CONSTRAINT ck_capital_calls_status")
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("UPDATE capital_calls SET status = 'issued' WHERE status IN ('partially_paid', 'paid')")
    op.execute("ALTER TABLE capital_calls DROP CONSTRAINT ck_capital_calls_status")
    op.execute(
        "ALTER TABLE capital_calls ADD CONSTRAINT ck_capital_calls_status CHECK "
        "(status IN ('issuing', 'issued', 'cancelled'))"
    )
    op.drop_column("users", "version")
    op.drop_column("commitments", "version")
    op.drop_column("capital_calls", "version")
    op.drop_column("capital_calls", "number")
    op.drop_column("call_items", "version")
    op.drop_index(op.f("ix_marks_pool_id"), table_name="marks")
    op.drop_table("marks")
    op.drop_index(op.f("ix_investments_pool_id"), table_name="investments")
    op.drop_table("investments")
    op.drop_index(op.f("ix_exits_pool_id"), table_name="exits")
    op.drop_table("exits")
    op.drop_index("uq_portfolio_companies_pool_id_name", table_name="portfolio_companies")
    op.drop_table("portfolio_companies")
    op.drop_index(op.f("ix_fee_charges_pool_id"), table_name="fee_charges")
    op.drop_table("fee_charges")
    op.drop_index(op.f("ix_distributions_pool_id"), table_name="distributions")
    op.drop_table("distributions")
    op.drop_index("ix_payments_pool_id_reference", table_name="payments")
    op.drop_index("ix_payments_call_item_id", table_name="payments")
    op.drop_table("payments")
