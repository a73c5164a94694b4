"""carrier nonces and result callbacks (the ``carrier`` plugin's branch)

Revision ID: carrier_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "carrier_0001"
down_revision = "0014"
branch_labels = ("carrier",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "carrier_nonces",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", Str(length=64), nullable=False),
        sa.Column("seen_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "nonce", name="uq_carrier_nonce"),
    )
    with op.batch_alter_table("carrier_nonces", schema=None) as batch_op:
        batch_op.create_index("ix_carrier_nonces_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_carrier_nonces_seen_at", ["seen_at"], unique=False)
    protect_tenant_table(op, "carrier_nonces")
    op.create_table(
        "carrier_callbacks",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notify_id", Str(length=64), nullable=False),
        sa.Column("order_no", Str(length=64), nullable=False),
        sa.Column("transaction_id", Str(length=64), nullable=False),
        sa.Column("status", Str(length=32), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("outcome", Str(length=24), nullable=False),
        sa.Column("detail", Str(length=300), nullable=False),
        sa.Column("received_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "notify_id", name="uq_carrier_callback"),
    )
    with op.batch_alter_table("carrier_callbacks", schema=None) as batch_op:
        batch_op.create_index("ix_carrier_callbacks_city_id", ["city_id"], unique=False)
    protect_tenant_table(op, "carrier_callbacks")


def downgrade() -> None:
    op.drop_table("carrier_callbacks")
    op.drop_table("carrier_nonces")
