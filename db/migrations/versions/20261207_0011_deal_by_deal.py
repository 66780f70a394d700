"""deal-by-deal carry and the GP commitment: a pool's waterfall model, the deal a distribution pays
out, the GP's own commitment

- pools.waterfall_model: 'whole_fund' (the default, how every pool has carried so far) or
  'deal_by_deal'.
- distributions.company_id: the deal whose proceeds a deal-by-deal distribution pays out (NULL:
  the whole pool's, as every distribution so far).
- pools.gp_commitment: the GP's own capital, committed when the pool opens (0, the default: none).
- commitments.gp: whether a commitment is the GP's own (false, the default, for every one so far).

Safe during a rolling deploy: columns with constant defaults and a nullable column (no rewrite);
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
        sa.Column("gp_commitment", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_pools_gp_commitment"), "pools", "gp_commitment >= 0 AND gp_commitment <= hard_cap"
    )
    op.add_column(
        "commitments", sa.Column("gp", sa.Boolean(), server_default=sa.text("false"), nullable=False)
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
    op.drop_column("commitments", "gp")
    op.drop_constraint(op.f("ck_pools_gp_commitment"), "pools", type_="check")
    op.drop_column("pools", "gp_commitment")
    op.drop_constraint(op.f("ck_pools_waterfall_model"), "pools", type_="check")
    op.drop_column("pools", "waterfall_model")
