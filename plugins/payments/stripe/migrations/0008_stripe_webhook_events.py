"""stripe webhook events (the ``stripe`` plugin's branch)

Revision ID: 0008
Revises: 0007 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0008"
down_revision = "0007"
branch_labels = ("stripe",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "stripe_webhook_events",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", Str(length=255), nullable=False),
        sa.Column("type", Str(length=80), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("outcome", Str(length=20), nullable=False),
        sa.Column("detail", Str(length=300), nullable=False),
        sa.Column("received_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "event_id", name="uq_stripe_event"),
    )
    with op.batch_alter_table("stripe_webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_stripe_webhook_events_city_id", ["city_id"], unique=False)
    rls.protect_tables(op, "stripe_webhook_events")


def downgrade() -> None:
    op.drop_table("stripe_webhook_events")
