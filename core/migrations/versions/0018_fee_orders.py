"""in-clinic fee payment: a member's orders paying a visit's outstanding charges

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "fee_orders",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", Str(length=24), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("visit_reference", Str(length=64), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("item_key", Str(length=400), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("provider", Str(length=60), nullable=False),
        sa.Column("payment_ref", Str(length=120), nullable=False),
        sa.Column("his_status", sa.String(length=12), nullable=False),
        sa.Column("his_detail", Str(length=300), nullable=False),
        sa.Column("refund_ref", Str(length=120), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("paid_at", When(), nullable=True),
        sa.Column("updated_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fee_orders", schema=None) as batch_op:
        batch_op.create_index("ix_fee_orders_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_fee_orders_member", ["city_id", "member_id", "created_at"], unique=False)
    rls.protect_tables(op, "fee_orders")


def downgrade() -> None:
    op.drop_table("fee_orders")
