"""licensing: contracts (versioned per city) and invoices

Revision ID: licensing_0002
Revises: licensing_0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import append_only, rls

revision = "licensing_0002"
down_revision = "licensing_0001"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime

_ONE_LIVE = sa.text("kind = 'invoice' AND status IN ('draft', 'finalized', 'paid')")


def _city() -> sa.Column:
    return sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False)


def _contracts() -> None:
    op.create_table(
        "licensing_contracts",
        _city(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", Str(length=20), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("buyer", sa.JSON(), nullable=False),
        sa.Column("note", Str(length=500), nullable=False),
        sa.Column("created_by", Str(length=120), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "version", name="uq_licensing_contract_version"),
    )
    op.create_index("ix_licensing_contracts_city_id", "licensing_contracts", ["city_id"])
    op.create_table(
        "licensing_profit_declarations",
        _city(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", Str(length=7), nullable=False),
        sa.Column("profit_fen", sa.BigInteger(), nullable=False),
        sa.Column("note", Str(length=500), nullable=False),
        sa.Column("declared_by", Str(length=120), nullable=False),
        sa.Column("declared_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "period", name="uq_licensing_profit_period"),
    )
    op.create_index("ix_licensing_profit_declarations_city_id", "licensing_profit_declarations", ["city_id"])


def _invoices() -> None:
    op.create_table(
        "licensing_invoices",
        _city(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", Str(length=12), nullable=False),
        sa.Column("status", Str(length=12), nullable=False),
        sa.Column("period", Str(length=7), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("number", Str(length=24), nullable=True),
        sa.Column("currency", Str(length=3), nullable=False),
        sa.Column("subtotal_fen", sa.BigInteger(), nullable=False),
        sa.Column("vat_percent", Str(length=8), nullable=False),
        sa.Column("vat_fen", sa.BigInteger(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("seller", sa.JSON(), nullable=False),
        sa.Column("buyer", sa.JSON(), nullable=False),
        sa.Column("contract_versions", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("credit_for_id", sa.Integer(), sa.ForeignKey("licensing_invoices.id"), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("created_by", Str(length=120), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("finalized_at", When(), nullable=True),
        sa.Column("paid_at", When(), nullable=True),
        sa.Column("paid_reference", Str(length=120), nullable=False),
        sa.Column("voided_at", When(), nullable=True),
        sa.Column("void_reason", Str(length=500), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=True),
        sa.Column("stripe_invoice_id", Str(length=64), nullable=False),
        sa.Column("stripe_status", Str(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number", name="uq_licensing_invoice_number"),
    )
    op.create_index("ix_licensing_invoices_city_id", "licensing_invoices", ["city_id"])
    op.create_index("ix_licensing_invoices_period", "licensing_invoices", ["period"])
    op.create_index("uq_licensing_invoice_live", "licensing_invoices", ["city_id", "period"], unique=True,
                    sqlite_where=_ONE_LIVE, postgresql_where=_ONE_LIVE)
    op.create_table(
        "licensing_invoice_lines",
        _city(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), sa.ForeignKey("licensing_invoices.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", Str(length=40), nullable=False),
        sa.Column("description", Str(length=200), nullable=False),
        sa.Column("description_en", Str(length=200), nullable=False),
        sa.Column("meter", Str(length=40), nullable=False),
        sa.Column("meter_value", Str(length=40), nullable=False),
        sa.Column("span_start", sa.Date(), nullable=False),
        sa.Column("span_end", sa.Date(), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit", Str(length=20), nullable=False),
        sa.Column("rate", Str(length=40), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("ledger_rows", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("first_hash", Str(length=64), nullable=False),
        sa.Column("last_hash", Str(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_licensing_invoice_lines_city_id", "licensing_invoice_lines", ["city_id"])
    op.create_index("ix_licensing_invoice_lines_invoice", "licensing_invoice_lines", ["invoice_id", "position"])
    op.create_table(
        "licensing_invoice_numbers",
        sa.Column("series", Str(length=8), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year"),
    )
    op.create_table(
        "licensing_seller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", Str(length=200), nullable=False),
        sa.Column("name_en", Str(length=200), nullable=False),
        sa.Column("tax_id", Str(length=40), nullable=False),
        sa.Column("address", Str(length=300), nullable=False),
        sa.Column("bank_account", Str(length=200), nullable=False),
        sa.Column("email", Str(length=200), nullable=False),
        sa.Column("phone", Str(length=40), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def upgrade() -> None:
    from guahao.licensing.invoices import immutability

    _contracts()
    _invoices()
    rls.protect_tables(op, "licensing_contracts", "licensing_profit_declarations", "licensing_invoices",
                       "licensing_invoice_lines")
    append_only.protect(op, "licensing_invoice_lines")
    if op.get_bind().dialect.name == "postgresql":
        role = context.config.attributes.get("app_role", "guahao_app")
        for stmt in immutability.pg_sql((role, rls.platform_role(role))):
            op.execute(stmt)
    else:
        for stmt in immutability.sqlite_sql():
            op.execute(stmt)


def downgrade() -> None:
    from guahao.licensing.invoices import immutability

    for stmt in immutability.drop_sql(op.get_bind().dialect.name):
        op.execute(stmt)
    append_only.unprotect(op, "licensing_invoice_lines")
    for table in ("licensing_seller", "licensing_invoice_numbers", "licensing_invoice_lines", "licensing_invoices",
                  "licensing_profit_declarations", "licensing_contracts"):
        op.drop_table(table)
