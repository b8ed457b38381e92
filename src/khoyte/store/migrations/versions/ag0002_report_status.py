"""aggregate: report status (first arrival, approval and lock) (issue 13, items 4 and 5)

Revision ID: ag0002
Revises: ag0001
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ag0002"
down_revision = "ag0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ag_report",
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("orgunit", sa.String(length=16), nullable=False),
        sa.Column("first_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("dataset", "period", "orgunit", name=op.f("pk_ag_report")),
    )


def downgrade() -> None:
    op.drop_table("ag_report")
