"""where a member registered from: hashed address and device, masked address (scalper view)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration_ip_hash", Str(length=32), nullable=True))
        batch_op.add_column(sa.Column("registration_net", Str(length=45), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("registration_device_hash", Str(length=32), nullable=True))
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.alter_column("registration_net", server_default=None)
        batch_op.create_index("ix_members_registration_ip", ["city_id", "registration_ip_hash"], unique=False)
        batch_op.create_index("ix_members_registration_device", ["city_id", "registration_device_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_registration_device")
        batch_op.drop_index("ix_members_registration_ip")
        batch_op.drop_column("registration_device_hash")
        batch_op.drop_column("registration_net")
        batch_op.drop_column("registration_ip_hash")
