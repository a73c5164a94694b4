"""audit log

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.Column("actor", Str(length=120), nullable=False),
        sa.Column("actor_name", Str(length=120), nullable=False),
        sa.Column("actor_role", Str(length=40), nullable=False),
        sa.Column("action", Str(length=60), nullable=False),
        sa.Column("target_type", Str(length=40), nullable=False),
        sa.Column("target_id", Str(length=60), nullable=False),
        sa.Column("summary", Str(length=500), nullable=False),
        sa.Column("reason", Str(length=500), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("ip", Str(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_audit_city_at", ["city_id", "at"], unique=False)
        batch_op.create_index("ix_audit_city_target", ["city_id", "target_type", "target_id"], unique=False)
        batch_op.create_index("ix_audit_city_actor", ["city_id", "actor"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for stmt in rls.enable_rls_sql("audit_entries"):
            op.execute(stmt)
        for stmt in rls.grants_sql(context.config.attributes.get("app_role", "guahao_app")):
            op.execute(stmt)


def downgrade() -> None:
    op.drop_table("audit_entries")
