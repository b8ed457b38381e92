"""persons: master person index

Revision ID: ps0001
Revises: (none: first revision of the persons branch)
Create Date: 2026-12-07 05:03:25.469366
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ps0001"
down_revision = None
branch_labels = ("persons",)
depends_on = None


def upgrade() -> None:

    op.create_table(
        "ps_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("survivor", sa.String(length=16), nullable=False),
        sa.Column("absorbed", sa.String(length=16), nullable=False),
        sa.Column("records", sa.Text(), nullable=False),
        sa.Column("undone_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ps_event")),
    )
    with op.batch_alter_table("ps_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ps_event_absorbed"), ["absorbed"], unique=False)
        batch_op.create_index(batch_op.f("ix_ps_event_survivor"), ["survivor"], unique=False)

    op.create_table(
        "ps_link",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("left_key", sa.String(length=120), nullable=False),
        sa.Column("right_key", sa.String(length=120), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=True),
        sa.Column("weights", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ps_link")),
    )
    with op.batch_alter_table("ps_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ps_link_left_key"), ["left_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_ps_link_right_key"), ["right_key"], unique=False)

    op.create_table(
        "ps_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ps_model")),
    )
    op.create_table(
        "ps_person",
        sa.Column("health_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_into", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("health_id", name=op.f("pk_ps_person")),
    )
    with op.batch_alter_table("ps_person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ps_person_merged_into"), ["merged_into"], unique=False)

    op.create_table(
        "ps_record",
        sa.Column("facility", sa.String(length=16), nullable=False),
        sa.Column("ma_lk", sa.String(length=100), nullable=False),
        sa.Column("health_id", sa.String(length=16), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ho_ten", sa.String(length=255), nullable=True),
        sa.Column("name_norm", sa.String(length=255), nullable=True),
        sa.Column("family", sa.String(length=64), nullable=True),
        sa.Column("given", sa.String(length=64), nullable=True),
        sa.Column("name_key", sa.String(length=128), nullable=True),
        sa.Column("dob", sa.String(length=8), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("cccd", sa.String(length=12), nullable=True),
        sa.Column("bhxh", sa.String(length=10), nullable=True),
        sa.Column("card", sa.String(length=15), nullable=True),
        sa.Column("commune", sa.String(length=8), nullable=True),
        sa.Column("phone", sa.String(length=12), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("facility", "ma_lk", name=op.f("pk_ps_record")),
    )
    with op.batch_alter_table("ps_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ps_record_bhxh"), ["bhxh"], unique=False)
        batch_op.create_index(batch_op.f("ix_ps_record_cccd"), ["cccd"], unique=False)
        batch_op.create_index("ix_ps_record_dob_sex", ["dob", "sex"], unique=False)
        batch_op.create_index(batch_op.f("ix_ps_record_health_id"), ["health_id"], unique=False)
        batch_op.create_index(
            "ix_ps_record_name_key_year", ["name_key", "birth_year"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ps_record_phone"), ["phone"], unique=False)

    op.create_table(
        "ps_review",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("left_key", sa.String(length=120), nullable=False),
        sa.Column("right_key", sa.String(length=120), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("weights", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ps_review")),
    )
    with op.batch_alter_table("ps_review", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ps_review_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("ps_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ps_review_status"))

    op.drop_table("ps_review")
    with op.batch_alter_table("ps_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ps_record_phone"))
        batch_op.drop_index("ix_ps_record_name_key_year")
        batch_op.drop_index(batch_op.f("ix_ps_record_health_id"))
        batch_op.drop_index("ix_ps_record_dob_sex")
        batch_op.drop_index(batch_op.f("ix_ps_record_cccd"))
        batch_op.drop_index(batch_op.f("ix_ps_record_bhxh"))

    op.drop_table("ps_record")
    with op.batch_alter_table("ps_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ps_person_merged_into"))

    op.drop_table("ps_person")
    op.drop_table("ps_model")
    with op.batch_alter_table("ps_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ps_link_right_key"))
        batch_op.drop_index(batch_op.f("ix_ps_link_left_key"))

    op.drop_table("ps_link")
    with op.batch_alter_table("ps_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ps_event_survivor"))
        batch_op.drop_index(batch_op.f("ix_ps_event_absorbed"))

    op.drop_table("ps_event")
