"""sms inbound messages (the ``sms_inbound`` plugin's branch)

Revision ID: sms_inbound_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "sms_inbound_0001"
down_revision = "0014"
branch_labels = ("sms_inbound",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "sms_inbound_messages",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", Str(length=20), nullable=False),
        sa.Column("message_id", Str(length=120), nullable=False),
        sa.Column("phone", Str(length=20), nullable=False),
        sa.Column("text", Str(length=500), nullable=False),
        sa.Column("sent_at", When(), nullable=True),
        sa.Column("received_at", When(), nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("outcome", Str(length=40), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "provider", "message_id", name="uq_sms_inbound_message"),
    )
    with op.batch_alter_table("sms_inbound_messages", schema=None) as batch_op:
        batch_op.create_index("ix_sms_inbound_messages_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_sms_inbound_phone", ["city_id", "phone", "id"], unique=False)
    protect_tenant_table(op, "sms_inbound_messages")


def downgrade() -> None:
    op.drop_table("sms_inbound_messages")
