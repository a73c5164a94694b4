"""report rollups (booking, slot and period statistics by day) and the bookings-by-day index

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from tenants import rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TENANT_TABLES = ["booking_stats_daily", "channel_stats_daily", "slot_stats_daily", "period_stats_daily", "report_rollups"]

STATUS_COUNTS = ("bookings", "pending", "confirmed", "checked_in", "no_show", "cancelled", "expired")

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def _tenant(name: str, *columns, index: list[str] | None = None, unique: list[str] | None = None) -> None:
    op.create_table(
        name,
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.PrimaryKeyConstraint("id"),
        *([sa.UniqueConstraint("city_id", *unique)] if unique is not None else []),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(f"ix_{name}_city_id", ["city_id"], unique=False)
        if index:
            batch_op.create_index(f"ix_{name}_day", index, unique=False)


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Integer(), nullable=False) for n in names]


def _session_grain() -> list[sa.Column]:
    return [
        sa.Column("day", sa.Date(), nullable=False),
        *_counts("hospital_id", "campus_id", "department_id", "doctor_id"),
        sa.Column("half_day", Str(length=10), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index("ix_bookings_day", ["city_id", "session_date"], unique=False)

    _tenant(
        "booking_stats_daily",
        *_session_grain(),
        sa.Column("pool", Str(length=20), nullable=False),
        sa.Column("referral_centre_id", sa.Integer(), nullable=False),
        *_counts(*STATUS_COUNTS),
        index=["city_id", "day"],
    )
    _tenant(
        "channel_stats_daily",
        sa.Column("day", sa.Date(), nullable=False),
        *_counts("hospital_id", "department_id"),
        sa.Column("channel", Str(length=20), nullable=False),
        *_counts(*STATUS_COUNTS),
        index=["city_id", "day"],
    )
    _tenant(
        "slot_stats_daily",
        *_session_grain(),
        sa.Column("pool", Str(length=20), nullable=False),
        *_counts("released", "withdrawn"),
        index=["city_id", "day"],
    )
    _tenant(
        "period_stats_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Time(), nullable=False),
        *_counts("bookings", "checked_in", "no_show", "cancelled"),
        index=["city_id", "day"],
    )
    _tenant(
        "report_rollups",
        sa.Column("rolled_from", sa.Date(), nullable=True),
        sa.Column("rolled_through", sa.Date(), nullable=True),
        sa.Column("refreshed_at", When(), nullable=False),
        unique=[],
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
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_day")
