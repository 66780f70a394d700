"""deal-by-deal carry and the GP commitment: a pool's waterfall model, the deal a distribution pays
out, the GP's own commitment

- pools.waterfall_model: 'whole_fund' (the default, how every pool has carried so far) or
  'deal_by_deal'.
- distributions.company_id: the deal whose proceeds a deal-by-deal distribution pays out (NULL:
  the whole pool's, as every distribution so far).
- pools.recover_prior_losses: in a deal-by-deal pool, whether a deal's waterfall first returns the
  capital that earlier, fully realized deals lost (false, the default).
- pools.gp_commitment: the GP's own capital, committed when the pool opens (0, the default: none).
- wind_downs: each pool's wind-down and the carry true-up it posted, a fact of its own as the
  distributions are, so verify checks the true-up's journals against it.
- commitments.gp: whether a commitment is the GP's own (false, the default, for every one so far).

Safe during a rolling deploy: a new table, columns with constant defaults and a nullable column (no
rewrite);
the index is built CONCURRENTLY after this migration's transaction, so postings go on meanwhile.
The previous release never writes the new columns and reads the rows it knows.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 20:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "pools",
        sa.Column("waterfall_model", sa.String(length=20), server_default="whole_fund", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_pools_waterfall_model"), "pools", "waterfall_model IN ('whole_fund', 'deal_by_deal')"
    )
    op.add_column(
        "pools",
        sa.Column("recover_prior_losses", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "pools",
        sa.Column("gp_commitment", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_pools_gp_commitment"), "pools", "gp_commitment >= 0 AND gp_commitment <= hard_cap"
    )
    op.add_column(
        "commitments", sa.Column("gp", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.create_table(
        "wind_downs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("pool_id", sa.BigInteger(), nullable=False),
        sa.Column("operation_id", sa.UUID(), nullable=False),
        sa.Column("wound_down_on", sa.Date(), nullable=False),
        sa.Column("carry_received", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("carry_due", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("escrow_released", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("escrow_applied", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("clawback_due", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "escrow_released >= 0 AND escrow_applied >= 0 AND clawback_due >= 0",
            name=op.f("ck_wind_downs_amounts"),
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], name=op.f("fk_wind_downs_pool_id_pools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wind_downs")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_wind_downs_operation_id")),
        sa.UniqueConstraint("pool_id", name=op.f("uq_wind_downs_pool_id")),
    )
    op.add_column("distributions", sa.Column("company_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_distributions_company_id_portfolio_companies"),
        "distributions",
        "portfolio_companies",
        ["company_id"],
        ["id"],
    )
    with op.get_context().autocommit_block():
        op.create_index(
            op.f("ix_distributions_company_id"),
            "distributions",
            ["company_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_distributions_company_id"), table_name="distributions")
    op.drop_constraint(
        op.f("fk_distributions_company_id_portfolio_companies"), "distributions", type_="foreignkey"
    )
    op.drop_column("distributions", "company_id")
    op.drop_table("wind_downs")
    op.drop_column("commitments", "gp")
    op.drop_constraint(op.f("ck_pools_gp_commitment"), "pools", type_="check")
    op.drop_column("pools", "gp_commitment")
    op.drop_column("pools", "recover_prior_losses")
    op.drop_constraint(op.f("ck_pools_waterfall_model"), "pools", type_="check")
    op.drop_column("pools", "waterfall_model")
