"""payment reconciliation: a run per provider and day, and the mismatches it found

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "payment_reconciliation_runs",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", Str(length=60), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("trigger", Str(length=40), nullable=False),
        sa.Column("started_at", When(), nullable=False),
        sa.Column("finished_at", When(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("statement_lines", sa.Integer(), nullable=False),
        sa.Column("provider_paid_fen", sa.Integer(), nullable=False),
        sa.Column("provider_refunded_fen", sa.Integer(), nullable=False),
        sa.Column("platform_paid_fen", sa.Integer(), nullable=False),
        sa.Column("platform_refunded_fen", sa.Integer(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("hospitals", sa.JSON(), nullable=False),
        sa.Column("error", Str(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "provider", "day", name="uq_payment_reconciliation_runs_day"),
    )
    with op.batch_alter_table("payment_reconciliation_runs", schema=None) as batch_op:
        batch_op.create_index("ix_payment_reconciliation_runs_city_id", ["city_id"], unique=False)
    op.create_table(
        "payment_mismatches",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", Str(length=60), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("line_kind", sa.String(length=10), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=True),
        sa.Column("our_ref", Str(length=120), nullable=False),
        sa.Column("provider_ref", Str(length=120), nullable=False),
        sa.Column("provider_amount_fen", sa.Integer(), nullable=True),
        sa.Column("platform_amount_fen", sa.Integer(), nullable=True),
        sa.Column("provider_status", Str(length=30), nullable=False),
        sa.Column("platform_status", Str(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", Str(length=500), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("resolved_at", When(), nullable=True),
        sa.Column("resolved_by", Str(length=80), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payment_mismatches", schema=None) as batch_op:
        batch_op.create_index("ix_payment_mismatches_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_payment_mismatches_day", ["city_id", "provider", "day", "status"], unique=False)
    rls.protect_tables(op, "payment_reconciliation_runs", "payment_mismatches")


def downgrade() -> None:
    op.drop_table("payment_mismatches")
    op.drop_table("payment_reconciliation_runs")
