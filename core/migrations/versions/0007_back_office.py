"""back office: schedule templates, schedule changes, referrals

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TENANT_TABLES = ["schedule_templates", "schedule_changes", "referrals"]

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def _tenant(name: str, *columns, indexes: list[tuple[str, list[str]]] = (), unique: list[str] | None = None) -> None:
    op.create_table(
        name,
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.PrimaryKeyConstraint("id"),
        *([sa.UniqueConstraint("city_id", *unique)] if unique else []),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(f"ix_{name}_city_id", ["city_id"], unique=False)
        for index, cols in indexes:
            batch_op.create_index(index, cols, unique=False)


def upgrade() -> None:
    _tenant(
        "schedule_templates",
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("campus_id", sa.Integer(), sa.ForeignKey("campuses.id"), nullable=False),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("registration_type_id", sa.Integer(), sa.ForeignKey("registration_types.id"), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("half_day", Str(length=10), nullable=False),
        sa.Column("period_count", sa.Integer(), nullable=False),
        sa.Column("pools", sa.JSON(), nullable=False),
        sa.Column("pool_release_hours_before", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        indexes=[("ix_schedule_templates_hospital", ["city_id", "hospital_id", "weekday"])],
    )
    _tenant(
        "schedule_changes",
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("clinic_sessions.id"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target_session_id", sa.Integer(), sa.ForeignKey("clinic_sessions.id"), nullable=True),
        sa.Column("reason", Str(length=500), nullable=False),
        sa.Column("actor", Str(length=120), nullable=False),
        sa.Column("actor_name", Str(length=120), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("waitlist_cancelled", sa.Integer(), nullable=False),
        indexes=[
            ("ix_schedule_changes_hospital", ["city_id", "hospital_id", "at"]),
            ("ix_schedule_changes_session", ["city_id", "session_id"]),
        ],
    )
    _tenant(
        "referrals",
        sa.Column("booking_id", Str(length=24), sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("centre_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("note", Str(length=500), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        unique=["booking_id"],
        indexes=[
            ("ix_referrals_centre", ["city_id", "centre_id", "created_at"]),
            ("ix_referrals_hospital", ["city_id", "hospital_id", "created_at"]),
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            for stmt in rls.enable_rls_sql(table):
                op.execute(stmt)
        for stmt in rls.grants_sql(context.config.attributes.get("app_role", "guahao_app")):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
