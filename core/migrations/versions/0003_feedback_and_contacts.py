"""feedback (surveys, reviews, complaints), announcements, articles; member contacts

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from guahao.tenants import rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TENANT_TABLES = ["survey_responses", "doctor_reviews", "complaints", "announcements", "knowledge_articles"]

Str = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def _tenant(name: str, *columns, indexes: list[tuple[str, list[str]]] = (), unique: list[str] | None = None) -> None:
    op.create_table(
        name,
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["city_id"], ["cities.id"]),
        sa.PrimaryKeyConstraint("id"),
        *([sa.UniqueConstraint("city_id", *unique)] if unique else []),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(f"ix_{name}_city_id", ["city_id"], unique=False)
        for index, cols in indexes:
            batch_op.create_index(index, cols, unique=False)


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", Str(length=254), nullable=True))
        batch_op.add_column(sa.Column("wechat_openid", Str(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_members_wechat_openid", ["city_id", "wechat_openid"])

    _tenant(
        "survey_responses",
        sa.Column("booking_id", Str(length=24), sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("department_id", sa.Integer(), sa.ForeignKey("departments.id"), nullable=False),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("overall", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("attitude", sa.Integer(), nullable=False),
        sa.Column("comment", Str(length=1000), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        unique=["booking_id"],
        indexes=[("ix_survey_responses_scope", ["city_id", "hospital_id", "department_id", "doctor_id", "visit_date"])],
    )
    _tenant(
        "doctor_reviews",
        sa.Column("booking_id", Str(length=24), sa.ForeignKey("bookings.id"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("doctor_id", sa.Integer(), sa.ForeignKey("doctors.id"), nullable=False),
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", Str(length=1000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("moderated_by", Str(length=80), nullable=False),
        sa.Column("moderated_at", When(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        unique=["booking_id"],
        indexes=[("ix_doctor_reviews_doctor", ["city_id", "doctor_id", "status", "created_at"])],
    )
    _tenant(
        "complaints",
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("booking_id", Str(length=24), sa.ForeignKey("bookings.id"), nullable=True),
        sa.Column("category", Str(length=30), nullable=False),
        sa.Column("text", Str(length=2000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reply", Str(length=2000), nullable=False),
        sa.Column("replied_by", Str(length=80), nullable=False),
        sa.Column("replied_at", When(), nullable=True),
        sa.Column("closed_at", When(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        indexes=[("ix_complaints_member", ["city_id", "member_id", "created_at"])],
    )
    _tenant(
        "announcements",
        sa.Column("hospital_id", sa.Integer(), sa.ForeignKey("hospitals.id"), nullable=False),
        sa.Column("title", Str(length=200), nullable=False),
        sa.Column("body", Str(length=10000), nullable=False),
        sa.Column("published_at", When(), nullable=False),
        indexes=[("ix_announcements_published", ["city_id", "published_at"])],
    )
    _tenant(
        "knowledge_articles",
        sa.Column("title", Str(length=200), nullable=False),
        sa.Column("category", Str(length=40), nullable=False),
        sa.Column("body", Str(length=20000), nullable=False),
        sa.Column("published_at", When(), nullable=False),
        indexes=[("ix_knowledge_articles_published", ["city_id", "published_at"])],
    )

    if op.get_bind().dialect.name == "postgresql":
        for table in TENANT_TABLES:
            for stmt in rls.enable_rls_sql(table):
                op.execute(stmt)
        for stmt in rls.grants_sql(context.config.attributes.get("app_role", "guahao_app")):
            op.execute(stmt)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.drop_table(table)
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint("uq_members_wechat_openid", type_="unique")
        batch_op.drop_column("wechat_openid")
        batch_op.drop_column("email")
