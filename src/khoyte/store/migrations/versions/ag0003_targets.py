"""aggregate: plan targets stored in the database (issue 13, plans at a province's own scale)

Revision ID: ag0003
Revises: ag0002
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ag0003"
down_revision = "ag0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ag_target",
        sa.Column("indicator", sa.String(length=64), nullable=False),
        sa.Column("orgunit", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("stored_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("indicator", "orgunit", "year", name=op.f("pk_ag_target")),
    )


def downgrade() -> None:
    op.drop_table("ag_target")
