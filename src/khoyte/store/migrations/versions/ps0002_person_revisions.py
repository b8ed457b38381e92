"""persons: a revision on every change of a record's health ID (the warehouse's feed)

Revision ID: ps0002
Revises: ps0001
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ps0002"
down_revision = "ps0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ps_record", schema=None) as batch_op:
        # records linked before revisions existed get revision 1: a warehouse (watermark 0)
        # reads them all on its next refresh
        batch_op.add_column(
            sa.Column("revision", sa.BigInteger(), nullable=False, server_default="1")
        )
        batch_op.create_index(batch_op.f("ix_ps_record_revision"), ["revision"], unique=False)
    op.create_table(
        "ps_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ps_revision")),
    )
    op.execute("INSERT INTO ps_revision (id, value) VALUES (1, 1)")


def downgrade() -> None:
    op.drop_table("ps_revision")
    with op.batch_alter_table("ps_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ps_record_revision"))
        batch_op.drop_column("revision")
