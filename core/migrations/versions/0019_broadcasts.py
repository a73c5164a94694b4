"""broadcasts (群发): notices to everyone booked in a session, department or hospital on a day

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("audience", Str(length=300), nullable=False),
        sa.Column("text", Str(length=500), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("request_key", Str(length=64), nullable=False),
        sa.Column("sent_by", Str(length=60), nullable=False),
        sa.Column("sent_by_name", Str(length=120), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["clinic_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "request_key", name="uq_broadcasts_request_key"),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index("ix_broadcasts_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_broadcasts_hospital_created", ["city_id", "hospital_id", "created_at"], unique=False)
    op.create_table(
        "broadcast_messages",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "broadcast_id", "member_id", "channel", name="uq_broadcast_messages"),
    )
    with op.batch_alter_table("broadcast_messages", schema=None) as batch_op:
        batch_op.create_index("ix_broadcast_messages_city_id", ["city_id"], unique=False)
    rls.protect_tables(op, "broadcasts", "broadcast_messages")


def downgrade() -> None:
    op.drop_table("broadcast_messages")
    op.drop_table("broadcasts")
