"""wechat official account pushes (the ``wechat_oa`` plugin's branch)

Revision ID: wechat_oa_0001
Revises: 0014 (core)
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from guahao.plugin_api import protect_tenant_table

revision = "wechat_oa_0001"
down_revision = "0014"
branch_labels = ("wechat_oa",)
depends_on = None

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "wechat_oa_pushes",
        sa.Column("city_id", sa.Integer(), sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", Str(length=160), nullable=False),
        sa.Column("openid", Str(length=64), nullable=False),
        sa.Column("kind", Str(length=40), nullable=False),
        sa.Column("received_at", When(), nullable=False),
        sa.Column("outcome", Str(length=40), nullable=False),
        sa.Column("reply", Str(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("city_id", "dedup_key", name="uq_wechat_oa_push"),
    )
    with op.batch_alter_table("wechat_oa_pushes", schema=None) as batch_op:
        batch_op.create_index("ix_wechat_oa_pushes_city_id", ["city_id"], unique=False)
    protect_tenant_table(op, "wechat_oa_pushes")


def downgrade() -> None:
    op.drop_table("wechat_oa_pushes")
