"""staff accounts, vendor accounts, staff single sign-on providers

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TENANT_TABLES = ["staff_accounts", "staff_sso_providers"]

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "vendor_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", Str(length=64), nullable=False),
        sa.Column("display_name", Str(length=100), nullable=False),
        sa.Column("email", Str(length=254), nullable=False),
        sa.Column("password_hash", Str(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", When(), nullable=True),
        sa.Column("totp_secret", Str(length=500), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", When(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "staff_sso_providers",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("label", Str(length=100), nullable=False),
        sa.Column("discovery_url", Str(length=500), nullable=False),
        sa.Column("client_id", Str(length=255), nullable=False),
        sa.Column("client_secret_encrypted", Str(length=2000), nullable=False),
        sa.Column("match_email", sa.Boolean(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id"),
    )
    op.create_index("ix_staff_sso_providers_city_id", "staff_sso_providers", ["city_id"], unique=False)
    op.create_table(
        "staff_accounts",
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", Str(length=64), nullable=False),
        sa.Column("display_name", Str(length=100), nullable=False),
        sa.Column("phone", Str(length=20), nullable=False),
        sa.Column("email", Str(length=254), nullable=False),
        sa.Column("password_hash", Str(length=255), nullable=True),
        sa.Column("role", Str(length=20), nullable=False),
        sa.Column("hospital_id", sa.Integer(), nullable=True),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("district_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", When(), nullable=True),
        sa.Column("totp_secret", Str(length=500), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("sso_subject", Str(length=255), nullable=True),
        sa.Column("last_login_at", When(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctors.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "sso_subject"),
        sa.UniqueConstraint("city_id", "username"),
    )
    op.create_index("ix_staff_accounts_city_id", "staff_accounts", ["city_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            for stmt in rls.enable_rls_sql(table):
                op.execute(stmt)
        for stmt in rls.grants_sql(context.config.attributes.get("app_role", "guahao_app")):
            op.execute(stmt)


def downgrade() -> None:
    op.drop_table("staff_accounts")
    op.drop_table("staff_sso_providers")
    op.drop_table("vendor_accounts")
