"""midtable read marks and the rows read (the ``midtable`` plugin's branch)

Revision ID: midtable_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "midtable_0001"
down_revision = "0014"
branch_labels = ("midtable",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime
WideId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "midtable_marks",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", WideId, nullable=False),
        sa.Column("hospital_code", Str(length=40), nullable=False),
        sa.Column("table_name", Str(length=20), nullable=False),
        sa.Column("source", Str(length=200), nullable=False),
        sa.Column("mark", sa.BigInteger(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("read_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "hospital_code", "table_name", name="uq_midtable_marks"),
    )
    with op.batch_alter_table("midtable_marks", schema=None) as batch_op:
        batch_op.create_index("ix_midtable_marks_city_id", ["city_id"], unique=False)
    protect_tenant_table(op, "midtable_marks")

    op.create_table(
        "midtable_rows",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", WideId, nullable=False),
        sa.Column("hospital_code", Str(length=40), nullable=False),
        sa.Column("table_name", Str(length=20), nullable=False),
        sa.Column("row_key", Str(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("patient_key", Str(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("read_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "hospital_code", "table_name", "row_key", name="uq_midtable_rows"),
    )
    with op.batch_alter_table("midtable_rows", schema=None) as batch_op:
        batch_op.create_index("ix_midtable_rows_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_midtable_rows_day", ["city_id", "hospital_code", "table_name", "day"], unique=False)
    protect_tenant_table(op, "midtable_rows")


def downgrade() -> None:
    op.drop_table("midtable_rows")
    op.drop_table("midtable_marks")
