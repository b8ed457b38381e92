"""surveillance: webhook subscriptions per scope, and the outbox's link to them

Revision ID: sv0002
Revises: sv0001
Create Date: 2026-12-07 14:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sv0002"
down_revision = "sv0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sv_webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=48), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sv_webhook")),
    )
    with op.batch_alter_table("sv_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscription_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sv_outbox", schema=None) as batch_op:
        batch_op.drop_column("subscription_id")
    op.drop_table("sv_webhook")
