"""wechatpay notifications (the ``wechatpay`` plugin's branch)

Revision ID: wechatpay_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "wechatpay_0001"
down_revision = "0014"
branch_labels = ("wechatpay",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "wechatpay_notifications",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notify_id", Str(length=64), nullable=False),
        sa.Column("event_type", Str(length=40), nullable=False),
        sa.Column("out_trade_no", Str(length=32), nullable=False),
        sa.Column("out_refund_no", Str(length=64), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("outcome", Str(length=20), nullable=False),
        sa.Column("detail", Str(length=300), nullable=False),
        sa.Column("received_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "notify_id", name="uq_wechatpay_notify"),
    )
    with op.batch_alter_table("wechatpay_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_wechatpay_notifications_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_wechatpay_notify_trade", ["city_id", "out_trade_no"], unique=False)
    protect_tenant_table(op, "wechatpay_notifications")


def downgrade() -> None:
    op.drop_table("wechatpay_notifications")
