"""ivr calls (the ``ivr`` plugin's branch)

Revision ID: ivr_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "ivr_0001"
down_revision = "0014"
branch_labels = ("ivr",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "ivr_calls",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sid", Str(length=64), nullable=False),
        sa.Column("ref", Str(length=12), nullable=False),
        sa.Column("caller", Str(length=40), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("started_at", When(), nullable=False),
        sa.Column("ended_at", When(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("minutes_reported", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "call_sid", name="uq_ivr_call_sid"),
        sa.UniqueConstraint("city_id", "ref", name="uq_ivr_call_ref"),
    )
    with op.batch_alter_table("ivr_calls", schema=None) as batch_op:
        batch_op.create_index("ix_ivr_calls_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_ivr_calls_member", ["city_id", "member_id", "id"], unique=False)
    protect_tenant_table(op, "ivr_calls")


def downgrade() -> None:
    op.drop_table("ivr_calls")
