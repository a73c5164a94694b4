"""licensing: installed licences

Revision ID: licensing_0003
Revises: licensing_0002
"""

revision = "licensing_0003"
down_revision = "licensing_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
