"""alipay notifies (the ``alipay`` plugin's branch)

Revision ID: alipay_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "alipay_0001"
down_revision = "0014"
branch_labels = ("alipay",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "alipay_notifies",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notify_id", Str(length=128), nullable=False),
        sa.Column("trade_status", Str(length=32), nullable=False),
        sa.Column("out_trade_no", Str(length=64), nullable=False),
        sa.Column("trade_no", Str(length=64), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("outcome", Str(length=20), nullable=False),
        sa.Column("detail", Str(length=300), nullable=False),
        sa.Column("received_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "notify_id", name="uq_alipay_notify"),
    )
    with op.batch_alter_table("alipay_notifies", schema=None) as batch_op:
        batch_op.create_index("ix_alipay_notifies_city_id", ["city_id"], unique=False)
    protect_tenant_table(op, "alipay_notifies")


def downgrade() -> None:
    op.drop_table("alipay_notifies")
