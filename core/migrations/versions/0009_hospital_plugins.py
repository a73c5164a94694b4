"""hospital plugin settings: a hospital's own values for a plugin its city enabled

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "hospital_plugins",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("plugin", Str(length=80), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secrets_encrypted", Str(length=8000), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "hospital_id", "plugin", name="uq_hospital_plugin"),
    )
    with op.batch_alter_table("hospital_plugins", schema=None) as batch_op:
        batch_op.create_index("ix_hospital_plugins_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_hospital_plugins_hospital_id", ["hospital_id"], unique=False)
    rls.protect_tables(op, "hospital_plugins")


def downgrade() -> None:
    op.drop_table("hospital_plugins")
