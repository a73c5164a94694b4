"""Hospital announcements and medical knowledge articles (R10.4): published, newest first.

An item with ``published_at`` in the future is scheduled and stays hidden until then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import NotFound
from guahao.core.models import Announcement, Article, Hospital
from guahao.tenants.clock import utcnow

from .visits import text


async def publish_announcement(
    s: AsyncSession, *, hospital_id: int, title: str, body: str, published_at: datetime | None = None
) -> Announcement:
    row = Announcement(hospital_id=hospital_id, title=text(title, 200, "title", required=True),
                       body=text(body, 10000, "body", required=True), published_at=published_at or utcnow())
    s.add(row)
    await s.flush()
    return row


async def publish_article(
    s: AsyncSession, *, title: str, body: str, category: str = "", published_at: datetime | None = None
) -> Article:
    row = Article(title=text(title, 200, "title", required=True), body=text(body, 20000, "body", required=True),
                  category=text(category, 40, "category"), published_at=published_at or utcnow())
    s.add(row)
    await s.flush()
    return row


async def list_announcements(s: AsyncSession, *, hospital_id: int | None = None, limit: int = 20) -> list[dict]:
    q = (
        select(Announcement, Hospital.name)
        .join(Hospital, Hospital.id == Announcement.hospital_id)
        .where(Announcement.published_at <= utcnow())
    )
    if hospital_id is not None:
        q = q.where(Announcement.hospital_id == hospital_id)
    rows = (await s.execute(q.order_by(Announcement.published_at.desc(), Announcement.id.desc()).limit(limit))).all()
    return [{"id": a.id, "hospital_id": a.hospital_id, "hospital_name": name, "title": a.title, "body": a.body,
             "published_at": a.published_at} for a, name in rows]


async def list_articles(s: AsyncSession, *, category: str | None = None, limit: int = 20) -> list[Article]:
    q = select(Article).where(Article.published_at <= utcnow())
    if category:
        q = q.where(Article.category == category)
    return list((await s.scalars(q.order_by(Article.published_at.desc(), Article.id.desc()).limit(limit))).all())


async def get_article(s: AsyncSession, article_id: int) -> Article:
    row = await s.scalar(select(Article).where(Article.id == article_id, Article.published_at <= utcnow()))
    if row is None:
        raise NotFound("文章")
    return row
