"""persons: the register of data subjects' requests (Decree 13/2023)

Revision ID: ps0003
Revises: ps0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ps0003"
down_revision = "ps0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ps_subject_request",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("health_id", sa.String(length=16), nullable=True),
        sa.Column("requester", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ps_subject_request")),
    )
    with op.batch_alter_table("ps_subject_request", schema=None) as batch_op:
        batch_op.create_index("ix_ps_subject_request_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_ps_subject_request_health_id", ["health_id"], unique=False)
        batch_op.create_index("ix_ps_subject_request_status", ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("ps_subject_request")
