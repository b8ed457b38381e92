"""gateway: facilities, credentials, submissions, record versions, findings, intake events

Revision ID: gw0001
Revises: (none: first revision of the gateway branch)
Create Date: 2026-11-23 12:53:19.252625
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gw0001"
down_revision = None
branch_labels = ("gateway",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gw_facility",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("commune", sa.String(length=16), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_gw_facility")),
    )
    with op.batch_alter_table("gw_facility", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gw_facility_commune"), ["commune"], unique=False)

    op.create_table(
        "gw_intake_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("facility", sa.String(length=16), nullable=True),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_intake_event")),
    )
    with op.batch_alter_table("gw_intake_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gw_intake_event_at"), ["at"], unique=False)

    op.create_table(
        "gw_record",
        sa.Column("facility", sa.String(length=16), nullable=False),
        sa.Column("ma_lk", sa.String(length=100), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("latest_sha", sa.String(length=64), nullable=False),
        sa.Column(
            "latest_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "current_version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("facility", "ma_lk", name=op.f("pk_gw_record")),
    )
    op.create_table(
        "gw_submission",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("facility", sa.String(length=16), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("n_records", sa.Integer(), nullable=False),
        sa.Column("n_accepted", sa.Integer(), nullable=False),
        sa.Column("n_warnings", sa.Integer(), nullable=False),
        sa.Column("n_rejected", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_submission")),
        sa.UniqueConstraint("sha256", name=op.f("uq_gw_submission_sha256")),
    )
    with op.batch_alter_table("gw_submission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gw_submission_facility"), ["facility"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_gw_submission_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "gw_credential",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("facility", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["facility"], ["gw_facility.code"], name=op.f("fk_gw_credential_facility_gw_facility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_credential")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_gw_credential_token_hash")),
    )
    with op.batch_alter_table("gw_credential", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gw_credential_facility"), ["facility"], unique=False)

    op.create_table(
        "gw_finding",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("submission_id", sa.String(length=32), nullable=False),
        sa.Column("record_index", sa.Integer(), nullable=True),
        sa.Column("ma_lk", sa.String(length=100), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=16), nullable=True),
        sa.Column("stt", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["gw_submission.id"],
            name=op.f("fk_gw_finding_submission_id_gw_submission"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_finding")),
    )
    with op.batch_alter_table("gw_finding", schema=None) as batch_op:
        batch_op.create_index("ix_gw_finding_code", ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_gw_finding_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "gw_record_version",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("facility", sa.String(length=16), nullable=False),
        sa.Column("ma_lk", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("content_sha", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["gw_submission.id"],
            name=op.f("fk_gw_record_version_submission_id_gw_submission"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gw_record_version")),
        sa.UniqueConstraint(
            "facility", "ma_lk", "version", name=op.f("uq_gw_record_version_facility")
        ),
    )
    with op.batch_alter_table("gw_record_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gw_record_version_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gw_record_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_record_version_submission_id"))

    op.drop_table("gw_record_version")
    with op.batch_alter_table("gw_finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_finding_submission_id"))
        batch_op.drop_index("ix_gw_finding_code")

    op.drop_table("gw_finding")
    with op.batch_alter_table("gw_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_credential_facility"))

    op.drop_table("gw_credential")
    with op.batch_alter_table("gw_submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_submission_received_at"))
        batch_op.drop_index(batch_op.f("ix_gw_submission_facility"))

    op.drop_table("gw_submission")
    op.drop_table("gw_record")
    with op.batch_alter_table("gw_intake_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_intake_event_at"))

    op.drop_table("gw_intake_event")
    with op.batch_alter_table("gw_facility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_facility_commune"))

    op.drop_table("gw_facility")
