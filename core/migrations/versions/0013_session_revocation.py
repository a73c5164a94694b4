"""sessions that can be ended: a session generation per account, member refresh tokens

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime
ACCOUNT_TABLES = ["members", "staff_accounts", "vendor_accounts"]


def upgrade() -> None:
    for table in ACCOUNT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("session_generation", server_default=None)
    op.create_table(
        "member_refresh_tokens",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("family_id", Str(length=32), nullable=False),
        sa.Column("token_hash", Str(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.Column("used_at", When(), nullable=True),
        sa.Column("revoked_at", When(), nullable=True),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "token_hash", name="uq_member_refresh_token_hash"),
    )
    with op.batch_alter_table("member_refresh_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_member_refresh_tokens_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_member_refresh_tokens_member_id", ["member_id"], unique=False)
        batch_op.create_index("ix_member_refresh_tokens_family", ["city_id", "family_id"], unique=False)
        batch_op.create_index("ix_member_refresh_tokens_expires_at", ["expires_at"], unique=False)
    rls.protect_tables(op, "member_refresh_tokens")


def downgrade() -> None:
    op.drop_table("member_refresh_tokens")
    for table in ACCOUNT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("session_generation")
