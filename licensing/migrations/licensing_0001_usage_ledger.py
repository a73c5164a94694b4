"""licensing: the usage ledger (append-only, hash-chained per city) and its chain heads

Revision ID: licensing_0001
Revises: 0011 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import append_only, rls

revision = "licensing_0001"
down_revision = "0011"
branch_labels = ("licensing",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "usage_events",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("meter", Str(length=40), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("occurred_at", When(), nullable=False),
        sa.Column("source_id", Str(length=200), nullable=False),
        sa.Column("recorded_at", When(), nullable=False),
        sa.Column("prev_hash", Str(length=64), nullable=False),
        sa.Column("hash", Str(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "source_id", name="uq_usage_source"),
        sa.UniqueConstraint("city_id", "seq", name="uq_usage_seq"),
    )
    op.create_index("ix_usage_events_city_id", "usage_events", ["city_id"])
    op.create_index("ix_usage_meter_time", "usage_events", ["city_id", "meter", "occurred_at"])
    op.create_index("ix_usage_time", "usage_events", ["city_id", "occurred_at"])
    op.create_table(
        "usage_chain_heads",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", Str(length=64), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", name="uq_usage_head_city"),
    )
    op.create_index("ix_usage_chain_heads_city_id", "usage_chain_heads", ["city_id"])
    rls.protect_tables(op, "usage_events", "usage_chain_heads")
    append_only.protect(op, "usage_events")


def downgrade() -> None:
    append_only.unprotect(op, "usage_events")
    op.drop_table("usage_chain_heads")
    op.drop_table("usage_events")
