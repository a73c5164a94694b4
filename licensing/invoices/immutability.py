"""The database's refusal to change an issued invoice (PostgreSQL and SQLite triggers).

- An invoice is never deleted (on PostgreSQL the tables' owner may: erasing a removed city).
- A draft may stay a draft, be ``discarded`` or become ``finalized`` (with its number).
- Once not a draft, its content (number, period, amounts, parties, dates of issue) is frozen;
  its state moves only finalized → paid, finalized → voided, paid → voided; the payment
  columns are written only on the move to paid, the void columns only on the move to voided;
  the Stripe columns stay writable (a push after finalization).
- Lines are append-only (:mod:`guahao.tenants.append_only`) and may be added to a draft only.
"""

from __future__ import annotations

from guahao.tenants.append_only import REFUSAL as APPEND_ONLY_REFUSAL

REFUSAL = "issued invoice: it cannot be changed or deleted"
LINE_REFUSAL = "issued invoice: lines can be added to a draft only"

CONTENT = (
    "id", "city_id", "kind", "period", "period_start", "period_end", "number", "currency", "subtotal_fen",
    "vat_percent", "vat_fen", "total_fen", "seller", "buyer", "contract_versions", "notes", "credit_for_id",
    "created_at", "created_by", "issued_on", "finalized_at",
)
PAYMENT = ("paid_at", "paid_reference")
VOID = ("voided_at", "void_reason", "credit_note_id")
JSON_COLUMNS = {"seller", "buyer", "contract_versions", "notes"}

_MOVES = "(OLD.status = NEW.status OR (OLD.status = 'finalized' AND NEW.status IN ('paid', 'voided')) " \
         "OR (OLD.status = 'paid' AND NEW.status = 'voided'))"
_DRAFT_MOVES = "(NEW.status IN ('draft', 'discarded') OR (NEW.status = 'finalized' AND NEW.number IS NOT NULL))"
_TO_PAID = "(OLD.status = 'finalized' AND NEW.status = 'paid')"
_TO_VOID = "(NEW.status = 'voided' AND OLD.status <> 'voided')"


def _pg_col(side: str, name: str) -> str:
    return f"{side}.{name}::text" if name in JSON_COLUMNS else f"{side}.{name}"


def _pg_row(side: str, names: tuple[str, ...]) -> str:
    return "ROW(" + ", ".join(_pg_col(side, n) for n in names) + ")"


def _pg_changed(names: tuple[str, ...]) -> str:
    return f"{_pg_row('NEW', names)} IS DISTINCT FROM {_pg_row('OLD', names)}"


def pg_sql(app_roles: tuple[str, ...]) -> list[str]:
    """Statements that guard the invoice tables on PostgreSQL (idempotent)."""
    guard = f"""CREATE OR REPLACE FUNCTION licensing_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    IF current_user = (SELECT tableowner FROM pg_tables WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME) THEN
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NULL;
    END IF;
    RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status = 'draft' THEN
    IF NOT {_DRAFT_MOVES} THEN
      RAISE EXCEPTION '{REFUSAL} (a draft becomes finalized with a number, or discarded)'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  IF {_pg_changed(CONTENT)} OR NOT {_MOVES}
     OR ({_pg_changed(PAYMENT)} AND NOT {_TO_PAID})
     OR ({_pg_changed(VOID)} AND NOT {_TO_VOID}) THEN
    RAISE EXCEPTION '{REFUSAL} (invoice %, %)', OLD.id, OLD.status USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$"""
    line_guard = f"""CREATE OR REPLACE FUNCTION licensing_invoice_line_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT status FROM licensing_invoices WHERE id = NEW.invoice_id) IS DISTINCT FROM 'draft' THEN
    RAISE EXCEPTION '{LINE_REFUSAL} (invoice %)', NEW.invoice_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$"""
    out = [
        guard,
        line_guard,
        "DROP TRIGGER IF EXISTS licensing_invoices_guard ON licensing_invoices",
        "CREATE TRIGGER licensing_invoices_guard BEFORE UPDATE OR DELETE ON licensing_invoices "
        "FOR EACH ROW EXECUTE FUNCTION licensing_invoice_guard()",
        "DROP TRIGGER IF EXISTS licensing_invoices_no_truncate ON licensing_invoices",
        "CREATE TRIGGER licensing_invoices_no_truncate BEFORE TRUNCATE ON licensing_invoices "
        "FOR EACH STATEMENT EXECUTE FUNCTION licensing_invoice_guard()",
        "DROP TRIGGER IF EXISTS licensing_invoice_lines_draft_only ON licensing_invoice_lines",
        "CREATE TRIGGER licensing_invoice_lines_draft_only BEFORE INSERT ON licensing_invoice_lines "
        "FOR EACH ROW EXECUTE FUNCTION licensing_invoice_line_guard()",
    ]
    out += [f'REVOKE DELETE, TRUNCATE ON licensing_invoices FROM "{role}"' for role in app_roles]
    return out


def _sqlite_changed(names: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"NEW.{n} IS NOT OLD.{n}" for n in names) + ")"


def sqlite_sql() -> list[str]:
    """Statements that guard the invoice tables on SQLite (idempotent)."""
    frozen = (
        f"OLD.status <> 'draft' AND ({_sqlite_changed(CONTENT)} OR NOT {_MOVES} "
        f"OR ({_sqlite_changed(PAYMENT)} AND NOT {_TO_PAID}) OR ({_sqlite_changed(VOID)} AND NOT {_TO_VOID}))"
    )
    return [
        # The same name and body as an append-only table's, so erasing a removed city
        # (tenants.append_only.erase_city) drops and restores it.
        "DROP TRIGGER IF EXISTS licensing_invoices_no_delete",
        f"CREATE TRIGGER licensing_invoices_no_delete BEFORE DELETE ON licensing_invoices "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_REFUSAL}'); END",
        "DROP TRIGGER IF EXISTS licensing_invoices_draft_moves",
        f"CREATE TRIGGER licensing_invoices_draft_moves BEFORE UPDATE ON licensing_invoices "
        f"WHEN OLD.status = 'draft' AND NOT {_DRAFT_MOVES} BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
        "DROP TRIGGER IF EXISTS licensing_invoices_frozen",
        f"CREATE TRIGGER licensing_invoices_frozen BEFORE UPDATE ON licensing_invoices "
        f"WHEN {frozen} BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
        "DROP TRIGGER IF EXISTS licensing_invoice_lines_draft_only",
        "CREATE TRIGGER licensing_invoice_lines_draft_only BEFORE INSERT ON licensing_invoice_lines "
        "WHEN (SELECT status FROM licensing_invoices WHERE id = NEW.invoice_id) IS NOT 'draft' "
        f"BEGIN SELECT RAISE(ABORT, '{LINE_REFUSAL}'); END",
    ]


def drop_sql(dialect: str) -> list[str]:
    """Statements that remove the guards (a migration's downgrade)."""
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS licensing_invoices_guard ON licensing_invoices",
            "DROP TRIGGER IF EXISTS licensing_invoices_no_truncate ON licensing_invoices",
            "DROP TRIGGER IF EXISTS licensing_invoice_lines_draft_only ON licensing_invoice_lines",
            "DROP FUNCTION IF EXISTS licensing_invoice_guard()",
            "DROP FUNCTION IF EXISTS licensing_invoice_line_guard()",
        ]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in (
        "licensing_invoices_no_delete", "licensing_invoices_draft_moves", "licensing_invoices_frozen",
        "licensing_invoice_lines_draft_only",
    )]
