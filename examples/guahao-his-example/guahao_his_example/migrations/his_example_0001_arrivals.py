"""his_example: arrival reports (the plugin's own branch)

Revision ID: his_example_0001
Depends on: core 0001 (cities)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "his_example_0001"
down_revision = None
branch_labels = ("his_example",)
depends_on = "0001"

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "his_example_arrivals",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arrival_id", Str(length=64), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("received_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "arrival_id", name="uq_his_example_arrival"),
    )
    with op.batch_alter_table("his_example_arrivals", schema=None) as batch_op:
        batch_op.create_index("ix_his_example_arrivals_city_id", ["city_id"], unique=False)
    protect_tenant_table(op, "his_example_arrivals")


def downgrade() -> None:
    op.drop_table("his_example_arrivals")
