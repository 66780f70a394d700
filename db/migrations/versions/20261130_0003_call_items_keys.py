"""call items: drop the per-row foreign keys on investor_id and commitment_id

Both are copied by the capital call from the accepted commitment it allocates on, which already
holds those keys; checking them again for each of 100,000 items cost more than writing the rows.
`python -m core verify` checks that every call item names an existing commitment of its call's
pool and that commitment's investor. The call_id key stays.

Safe during a rolling deploy: dropping a constraint takes a brief lock and rewrites nothing, and
the previous release writes the same rows. Downgrade restores both keys (NOT VALID, then
VALIDATE, so the check does not hold the lock while it scans).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 03:10:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "fk_call_items_investor_id_users": ("investor_id", "users"),
    "fk_call_items_commitment_id_commitments": ("commitment_id", "commitments"),
}


def upgrade() -> None:
    for name in KEYS:
        op.drop_constraint(name, "call_items", type_="foreignkey")


def downgrade() -> None:
    for name, (column, table) in KEYS.items():
        op.execute(
            f"ALTER TABLE call_items ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
            f"REFERENCES {table} (id) NOT VALID"
        )
        op.execute(f"ALTER TABLE call_items VALIDATE CONSTRAINT {name}")
