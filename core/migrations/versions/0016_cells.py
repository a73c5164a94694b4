"""database cells: the directory of cells and each city's cell, and a copy's state

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "cells",
        sa.Column("name", Str(length=40), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("url", Str(length=2000), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("ordinal"),
    )
    with op.batch_alter_table("cities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cell", Str(length=40), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("cell_state", Str(length=10), nullable=False, server_default=""))
    if op.get_bind().dialect.name == "postgresql":  # the directory: the platform login only
        plat = rls.platform_role(context.config.attributes.get("app_role", "guahao_app"))
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON cells TO "{plat}"')


def downgrade() -> None:
    with op.batch_alter_table("cities", schema=None) as batch_op:
        batch_op.drop_column("cell_state")
        batch_op.drop_column("cell")
    op.drop_table("cells")
