#!/bin/sh
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d): the tables' owner
# `guahao` (not superuser; `guahao migrate` logs in as it), the database it owns, and the two
# logins the migrations would otherwise create without a password: the application role
# (row-level security applies) and the platform role (BYPASSRLS, for cross-city work).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_pw="$GUAHAO_OWNER_DB_PASSWORD" -v app_pw="$GUAHAO_APP_DB_PASSWORD" \
  -v platform_pw="$GUAHAO_PLATFORM_DB_PASSWORD" <<'SQL'
CREATE ROLE guahao LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_pw';
CREATE ROLE guahao_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_pw';
CREATE ROLE guahao_app_platform LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS PASSWORD :'platform_pw';
CREATE DATABASE guahao OWNER guahao;
-- `guahao city restore` and moves between cells switch triggers off without locking tables.
GRANT SET ON PARAMETER session_replication_role TO guahao;
SQL
