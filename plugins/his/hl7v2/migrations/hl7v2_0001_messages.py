"""hl7v2 message log and received schedule/visit messages (the ``hl7v2`` plugin's branch)

Revision ID: hl7v2_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "hl7v2_0001"
down_revision = "0014"
branch_labels = ("hl7v2",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "hl7v2_messages",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=True),
        sa.Column("direction", Str(length=3), nullable=False),
        sa.Column("message_type", Str(length=20), nullable=False),
        sa.Column("control_id", Str(length=40), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("ack_code", Str(length=2), nullable=False),
        sa.Column("reference", Str(length=80), nullable=False),
        sa.Column("text", Str(length=300), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hl7v2_messages", schema=None) as batch_op:
        batch_op.create_index("ix_hl7v2_messages_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_hl7v2_messages_hospital_at", ["city_id", "hospital_id", "at"], unique=False)
    protect_tenant_table(op, "hl7v2_messages")

    op.create_table(
        "hl7v2_received",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("hospital_code", Str(length=40), nullable=False),
        sa.Column("control_id", Str(length=40), nullable=False),
        sa.Column("kind", Str(length=20), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("doctor_code", Str(length=40), nullable=False),
        sa.Column("department_code", Str(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("starts_at", When(), nullable=True),
        sa.Column("ends_at", When(), nullable=True),
        sa.Column("reason", Str(length=300), nullable=False),
        sa.Column("reference", Str(length=80), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "hospital_id", "control_id", name="uq_hl7v2_received"),
    )
    with op.batch_alter_table("hl7v2_received", schema=None) as batch_op:
        batch_op.create_index("ix_hl7v2_received_city_id", ["city_id"], unique=False)
    protect_tenant_table(op, "hl7v2_received")


def downgrade() -> None:
    op.drop_table("hl7v2_received")
    op.drop_table("hl7v2_messages")
