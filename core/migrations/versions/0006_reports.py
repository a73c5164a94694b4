"""report rollups (booking, slot and period statistics by day and by month) and the bookings-
and sessions-by-day indexes

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GRAINS = ("booking_stats", "channel_stats", "slot_stats", "period_stats")
TENANT_TABLES = [f"{g}_{span}" for g in GRAINS for span in ("daily", "monthly")] + ["report_rollups"]

STATUS_COUNTS = ("bookings", "pending", "confirmed", "checked_in", "no_show", "cancelled", "expired")

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def _tenant(name: str, *columns, index: tuple[str, list[str]] | None = None, unique: list[str] | None = None) -> None:
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
            batch_op.create_index(f"ix_{name}_{index[0]}", index[1], unique=False)


def _counts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Integer(), nullable=False) for n in names]


def _grains() -> dict[str, list[sa.Column]]:
    """The grouping and count columns of each rollup, without its day or month."""
    return {
        "booking_stats": [
            *_counts("hospital_id", "campus_id", "department_id", "doctor_id"),
            sa.Column("half_day", Str(length=10), nullable=False),
            sa.Column("pool", Str(length=20), nullable=False),
            sa.Column("referral_centre_id", sa.Integer(), nullable=False),
            *_counts(*STATUS_COUNTS),
        ],
        "channel_stats": [
            *_counts("hospital_id", "department_id"),
            sa.Column("channel", Str(length=20), nullable=False),
            *_counts(*STATUS_COUNTS),
        ],
        "slot_stats": [
            *_counts("hospital_id", "campus_id", "department_id", "doctor_id"),
            sa.Column("half_day", Str(length=10), nullable=False),
            sa.Column("pool", Str(length=20), nullable=False),
            *_counts("released", "withdrawn"),
        ],
        "period_stats": [
            *_counts("hospital_id", "department_id"),
            sa.Column("period_start", sa.Time(), nullable=False),
            *_counts("bookings", "checked_in", "no_show", "cancelled"),
        ],
    }


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index("ix_bookings_day", ["city_id", "session_date"], unique=False)
    with op.batch_alter_table("clinic_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_day", ["city_id", "date"], unique=False)

    for grain in GRAINS:
        for span, column in (("daily", "day"), ("monthly", "month")):
            _tenant(f"{grain}_{span}", sa.Column(column, sa.Date(), nullable=False), *_grains()[grain],
                    index=(column, ["city_id", column]))
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
    with op.batch_alter_table("clinic_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_day")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_day")
