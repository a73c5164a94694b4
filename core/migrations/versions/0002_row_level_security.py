"""Row-level security on every tenant table, and the application roles (PostgreSQL only).

Revision ID: 0002
Revises: 0001
"""

from alembic import context, op

from guahao.tenants import rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen list: tenant tables as of this revision. Later migrations that add tenant tables
# call ``rls.enable_rls_sql`` for them.
TENANT_TABLES = [
    "booking_events", "bookings", "campuses", "city_plugins", "clinic_sessions", "credit_events",
    "departments", "districts", "doctors", "hospitals", "idempotency_records", "members",
    "notifications", "outbox", "periods", "registration_types", "slot_pools", "waitlist_entries",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    app_role = context.config.attributes.get("app_role", "guahao_app")
    for stmt in rls.roles_sql(app_role):
        op.execute(stmt)
    for table in TENANT_TABLES:
        for stmt in rls.enable_rls_sql(table):
            op.execute(stmt)
    for stmt in rls.grants_sql(app_role):
        op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f'DROP POLICY IF EXISTS {rls.POLICY} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
