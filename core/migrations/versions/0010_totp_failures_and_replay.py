"""staff and vendor accounts: second-factor failures and the last accepted TOTP step

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ["staff_accounts", "vendor_accounts"]


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("totp_failures", sa.Integer(), nullable=False, server_default="0"))
            batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("totp_failures", server_default=None)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("totp_last_step")
            batch_op.drop_column("totp_failures")
