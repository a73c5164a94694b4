"""licensing: installed licences

Revision ID: licensing_0003
Revises: licensing_0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "licensing_0003"
down_revision = "licensing_0002"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "licences",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("licence_id", Str(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("key_id", Str(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("installed_at", When(), nullable=False),
        sa.Column("installed_by", Str(length=120), nullable=False),
        sa.Column("revoked_at", When(), nullable=True),
        sa.Column("revoked_by", Str(length=120), nullable=False),
        sa.Column("revoke_reason", Str(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "licence_id", name="uq_licence_id"),
    )
    op.create_index("ix_licences_city_id", "licences", ["city_id"])
    rls.protect_tables(op, "licences")


def downgrade() -> None:
    op.drop_table("licences")
