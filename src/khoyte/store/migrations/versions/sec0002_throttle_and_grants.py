"""security: sign-in throttle counters replace per-attempt rows; pending grants

Revision ID: sec0002
Revises: sec0001
Create Date: 2026-12-07

``sec_login_attempts`` (one row per attempt, usernames as typed: findings F8, F20) gives way
to ``sec_login_throttle`` (one row per address and window, with counters); the attempts' story
stays in the audit trail. ``sec_pending_grants`` holds access changes awaiting a second
administrator (F5).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sec0002"
down_revision = "sec0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sec_login_throttle",
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ip", "bucket", name=op.f("pk_sec_login_throttle")),
    )
    with op.batch_alter_table("sec_login_throttle", schema=None) as batch_op:
        batch_op.create_index("ix_sec_login_throttle_bucket", ["bucket"], unique=False)
    op.create_table(
        "sec_pending_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("new_totp", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sec_pending_grants")),
    )
    with op.batch_alter_table("sec_pending_grants", schema=None) as batch_op:
        batch_op.create_index("ix_sec_pending_grants_status", ["status"], unique=False)
    with op.batch_alter_table("sec_login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sec_login_attempts_ip_at")
    op.drop_table("sec_login_attempts")


def downgrade() -> None:
    op.create_table(
        "sec_login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sec_login_attempts")),
    )
    with op.batch_alter_table("sec_login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_sec_login_attempts_ip_at", ["ip", "at"], unique=False)
    with op.batch_alter_table("sec_pending_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_sec_pending_grants_status")
    op.drop_table("sec_pending_grants")
    with op.batch_alter_table("sec_login_throttle", schema=None) as batch_op:
        batch_op.drop_index("ix_sec_login_throttle_bucket")
    op.drop_table("sec_login_throttle")
