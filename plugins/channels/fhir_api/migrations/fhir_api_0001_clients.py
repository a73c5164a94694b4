"""fhir api clients, tokens, holds and bookings (the ``fhir_api`` plugin's branch)

Revision ID: fhir_api_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "fhir_api_0001"
down_revision = "0014"
branch_labels = ("fhir_api",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime
TABLES = ("fhir_api_clients", "fhir_api_tokens", "fhir_api_holds", "fhir_api_bookings")


def _city() -> sa.Column:
    return sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "fhir_api_clients", _city(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", Str(length=40), nullable=False),
        sa.Column("secret_hash", Str(length=200), nullable=False),
        sa.Column("name", Str(length=120), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.UniqueConstraint("city_id", "client_id", name="uq_fhir_api_client"),
    )
    op.create_table(
        "fhir_api_tokens", _city(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", Str(length=64), nullable=False),
        sa.Column("client_id", Str(length=40), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_fhir_api_token"),
    )
    op.create_table(
        "fhir_api_holds", _city(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hold_id", Str(length=40), nullable=False, unique=True),
        sa.Column("client_id", Str(length=40), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
    )
    op.create_index("ix_fhir_api_holds_period", "fhir_api_holds", ["city_id", "period_id", "expires_at"])
    op.create_table(
        "fhir_api_bookings", _city(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", Str(length=40), nullable=False),
        sa.Column("booking_id", Str(length=24), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.UniqueConstraint("city_id", "booking_id", name="uq_fhir_api_booking"),
    )
    op.create_index("ix_fhir_api_bookings_client", "fhir_api_bookings", ["city_id", "client_id", "created_at"])
    for table in TABLES:
        protect_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
