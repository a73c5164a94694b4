"""PostgreSQL row-level security: the second isolation wall (R15.1).

Every tenant table gets ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` and one policy comparing
``city_id`` with the transaction's ``app.city_id``. The policy fails closed: with no city set
the setting is empty, ``NULLIF`` makes it NULL and no row matches.

The application logs in as ``<app_role>``: not superuser, not owner, no BYPASSRLS. Cross-city
work (only inside ``tenants.context.platform_scope``) runs on a second connection pool that
logs in as ``<app_role>_platform`` (LOGIN, BYPASSRLS, not superuser, owns nothing). The
application role is not a member of the platform role, so its credentials cannot
``SET ROLE`` past the policies: lifting the wall takes the platform login's own credentials.
"""

from __future__ import annotations

POLICY = "city_isolation"
CITY_EXPR = "NULLIF(current_setting('app.city_id', true), '')::integer"


def platform_role(app_role: str) -> str:
    return f"{app_role}_platform"


def enable_rls_sql(table: str) -> list[str]:
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY} ON "{table}"',
        f'CREATE POLICY {POLICY} ON "{table}" USING (city_id = {CITY_EXPR}) WITH CHECK (city_id = {CITY_EXPR})',
    ]


def roles_sql(app_role: str) -> list[str]:
    """Create the application login and the platform login if missing, and bring roles made by
    earlier releases in line: the platform role may log in, and the application role is no
    longer a member of it (idempotent; each change runs only when needed, so an owner without
    the right to alter roles can migrate a database whose roles are already right)."""
    plat = platform_role(app_role)
    return [
        f"""DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app_role}') THEN
    CREATE ROLE "{app_role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{plat}') THEN
    CREATE ROLE "{plat}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS;
  ELSIF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = '{plat}') THEN
    ALTER ROLE "{plat}" LOGIN;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_auth_members m
             JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
             WHERE r.rolname = '{plat}' AND u.rolname = '{app_role}') THEN
    REVOKE "{plat}" FROM "{app_role}";
  END IF;
END $$""",
    ]


def grants_sql(app_role: str) -> list[str]:
    """Give both roles data access (never DDL, never ownership) to what exists now."""
    out = []
    for role in (app_role, platform_role(app_role)):
        out += [
            f'GRANT USAGE ON SCHEMA public TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
        ]
    return out


def protect_tables(op, *tables: str, app_role_default: str = "guahao_app") -> None:
    """In a migration (core's or a plugin's): on PostgreSQL, put each table behind the city
    policy and grant the application roles their rights to it (nothing to do on SQLite)."""
    from alembic import context

    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        for stmt in enable_rls_sql(table):
            op.execute(stmt)
    for stmt in grants_sql(context.config.attributes.get("app_role", app_role_default)):
        op.execute(stmt)
