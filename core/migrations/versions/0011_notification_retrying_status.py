"""notifications: a failure the outbox will retry has status ``retrying``

Until now such a row was ``failed`` with its error text starting with a retry mark; the status
now says it. Existing marked rows become ``retrying`` with the mark removed (downgrade puts it
back). On PostgreSQL the owner lifts FORCE ROW LEVEL SECURITY for this one transaction so the
update reaches every city's rows.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

MARK = "（将重试）"  # the error prefix the earlier code wrote on failures still to be retried


def _update(statement: sa.TextClause) -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    if postgres:
        op.execute('ALTER TABLE "notifications" NO FORCE ROW LEVEL SECURITY')
    op.execute(statement)
    if postgres:
        op.execute('ALTER TABLE "notifications" FORCE ROW LEVEL SECURITY')


def upgrade() -> None:
    _update(
        sa.text(
            "UPDATE notifications SET status = 'retrying', error = substr(error, :rest) "
            "WHERE status = 'failed' AND substr(error, 1, :length) = :mark"
        ).bindparams(
            sa.bindparam("rest", len(MARK) + 1, type_=sa.Integer),
            sa.bindparam("length", len(MARK), type_=sa.Integer),
            sa.bindparam("mark", MARK, type_=sa.String),
        )
    )


def downgrade() -> None:
    _update(
        sa.text(
            "UPDATE notifications SET status = 'failed', error = substr(CAST(:mark AS VARCHAR) || error, 1, 1000) "
            "WHERE status = 'retrying'"
        ).bindparams(sa.bindparam("mark", MARK, type_=sa.String))
    )
