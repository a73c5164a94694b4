"""staff log-in: wrong passwords counted per account and client address

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "staff_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_kind", Str(length=10), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("address", Str(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", When(), nullable=False),
        sa.Column("locked_until", When(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_kind", "account_id", "address"),
    )
    op.create_index("ix_staff_login_failures_last_failed_at", "staff_login_failures", ["last_failed_at"], unique=False)
    if op.get_bind().dialect.name == "postgresql":  # a platform table: no city policy, the roles' rights only
        for stmt in rls.grants_sql(context.config.attributes.get("app_role", "guahao_app")):
            op.execute(stmt)


def downgrade() -> None:
    op.drop_index("ix_staff_login_failures_last_failed_at", table_name="staff_login_failures")
    op.drop_table("staff_login_failures")
