"""registry: places, old → new commune map, facilities (replacing gw_facility), revisions

The gateway's ``gw_facility`` rows move into ``rg_facility`` (one registry for the gateway,
the dashboards and the administrators); ``gw_credential`` then points at ``rg_facility``, so
existing credentials keep working.

Revision ID: rg0001
Revises: (none: first revision of the registry branch; needs gw0001 for the rows it moves)
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "rg0001"
down_revision = None
branch_labels = ("registry",)
depends_on = "gw0001"

REFORM = date(2025, 7, 1)


def upgrade() -> None:
    place = op.create_table(
        "rg_place",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent", sa.String(length=8), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_rg_place")),
    )
    op.create_index(op.f("ix_rg_place_parent"), "rg_place", ["parent"], unique=False)
    op.create_table(
        "rg_commune_map",
        sa.Column("old_code", sa.String(length=8), nullable=False),
        sa.Column("old_level", sa.String(length=12), nullable=False),
        sa.Column("new_commune", sa.String(length=8), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("old_code", "old_level", name=op.f("pk_rg_commune_map")),
    )
    op.create_index(
        op.f("ix_rg_commune_map_new_commune"), "rg_commune_map", ["new_commune"], unique=False
    )
    op.create_table(
        "rg_facility",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("commune", sa.String(length=16), nullable=True),
        sa.Column("province", sa.String(length=8), nullable=True),
        sa.Column("beds", sa.Integer(), nullable=True),
        sa.Column("staff", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_rg_facility")),
    )
    op.create_index(op.f("ix_rg_facility_commune"), "rg_facility", ["commune"], unique=False)
    op.create_index(op.f("ix_rg_facility_revision"), "rg_facility", ["revision"], unique=False)
    rev = op.create_table(
        "rg_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rg_revision")),
    )
    # The 2025 units as the installed vietnam-provinces has them (``khoyte place sync`` takes
    # a later release's).
    from vietnam_provinces import Province, Ward

    op.bulk_insert(
        place,
        [
            {"code": f"{int(p.code):02d}", "level": "province", "name": p.name, "parent": None,
             "valid_from": REFORM}
            for p in Province.iter_all()
        ]
        + [
            {"code": f"{int(w.code):05d}", "level": "commune", "name": w.name,
             "parent": f"{int(w.province_code):02d}", "valid_from": REFORM}
            for w in Ward.iter_all()
        ],
    )  # fmt: skip
    # The gateway's facilities move here; each is a change the warehouse has not seen
    # (revision 1), so its dimension gets them on its next refresh.
    op.execute(
        "INSERT INTO rg_facility (code, name, tier, commune, active, created_at, revision) "
        "SELECT code, name, tier, commune, active, created_at, 1 FROM gw_facility"
    )
    op.execute(
        "UPDATE rg_facility SET province = (SELECT parent FROM rg_place "
        "WHERE rg_place.code = rg_facility.commune)"
    )
    op.bulk_insert(rev, [{"id": 1, "value": 1}])
    with op.batch_alter_table("gw_credential", schema=None) as batch_op:
        batch_op.drop_constraint("fk_gw_credential_facility_gw_facility", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_gw_credential_facility_rg_facility"), "rg_facility", ["facility"],
            ["code"],
        )  # fmt: skip
    with op.batch_alter_table("gw_facility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gw_facility_commune"))
    op.drop_table("gw_facility")


def downgrade() -> None:
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
    op.create_index(op.f("ix_gw_facility_commune"), "gw_facility", ["commune"], unique=False)
    op.execute(
        "INSERT INTO gw_facility (code, name, tier, commune, active, created_at) "
        "SELECT code, name, tier, commune, active, created_at FROM rg_facility"
    )
    with op.batch_alter_table("gw_credential", schema=None) as batch_op:
        batch_op.drop_constraint("fk_gw_credential_facility_rg_facility", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_gw_credential_facility_gw_facility"), "gw_facility", ["facility"],
            ["code"],
        )  # fmt: skip
    op.drop_table("rg_revision")
    op.drop_index(op.f("ix_rg_facility_revision"), table_name="rg_facility")
    op.drop_index(op.f("ix_rg_facility_commune"), table_name="rg_facility")
    op.drop_table("rg_facility")
    op.drop_index(op.f("ix_rg_commune_map_new_commune"), table_name="rg_commune_map")
    op.drop_table("rg_commune_map")
    op.drop_index(op.f("ix_rg_place_parent"), table_name="rg_place")
    op.drop_table("rg_place")
