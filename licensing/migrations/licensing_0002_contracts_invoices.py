"""licensing: contracts (versioned per city) and invoices

Revision ID: licensing_0002
Revises: licensing_0001
"""

revision = "licensing_0002"
down_revision = "licensing_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
