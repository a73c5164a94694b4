"""HIS schedule sync: sessions a HIS published, and every pull from a hospital's HIS

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.tenants import rls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "his_sessions",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("adapter", Str(length=80), nullable=False),
        sa.Column("reference", Str(length=120), nullable=False),
        sa.Column("synced_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["clinic_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "session_id", name="uq_his_sessions_session"),
    )
    with op.batch_alter_table("his_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_his_sessions_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_his_sessions_hospital", ["city_id", "hospital_id"], unique=False)
    op.create_table(
        "his_sync_runs",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("trigger", Str(length=40), nullable=False),
        sa.Column("adapter", Str(length=80), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=True),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("started_at", When(), nullable=False),
        sa.Column("finished_at", When(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("suspended", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("error", Str(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("his_sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_his_sync_runs_city_id", ["city_id"], unique=False)
        batch_op.create_index("ix_his_sync_runs_hospital", ["city_id", "hospital_id", "kind", "id"], unique=False)
    rls.protect_tables(op, "his_sessions", "his_sync_runs")


def downgrade() -> None:
    op.drop_table("his_sync_runs")
    op.drop_table("his_sessions")
