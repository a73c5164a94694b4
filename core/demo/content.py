"""Demo announcements and health articles (R10.4), so the news page is not empty."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.feedback.content import publish_announcement, publish_article
from guahao.core.models import Hospital
from guahao.tenants.clock import utcnow

ANNOUNCEMENTS = [
    ("春节期间门诊安排", "春节期间普通门诊照常开诊，部分专家门诊停诊，请以平台号源为准。急诊24小时开放。"),
    ("新院区开诊通知", "我院东院区已正式开诊，开设内科、外科、儿科门诊，可在本平台选择“东院区”预约。"),
    ("就诊须知", "请携带本人身份证、医保卡，于预约时段开始前到院自助机或人工窗口取号，过时未取号视为爽约。"),
]
ARTICLES = [
    ("流感季如何保护自己", "呼吸道健康",
     "接种流感疫苗是预防流感最有效的手段。\n\n勤洗手、戴口罩、保持室内通风；出现高热、咳嗽等症状应及时就医。"),
    ("高血压患者日常注意事项", "慢病管理",
     "坚持按时服药，不可自行停药。\n\n低盐饮食，每日食盐不超过5克；规律运动，定期测量血压并记录。"),
    ("儿童发热的家庭处理", "儿童健康",
     "体温超过38.5℃可在医生指导下使用退热药。\n\n如持续高热不退、精神差或出现抽搐，请立即就医。"),
    ("如何通过平台预约挂号", "就医指南",
     "实名注册后，选择医院、科室和医生，查看号源后确认预约。\n\n就诊当日凭身份证到院取号；如不能就诊，请按规定时间提前取消。"),
]


async def seed_content(s: AsyncSession) -> int:
    """Add the demo announcements (spread over the largest hospitals) and articles."""
    hospitals = (await s.scalars(select(Hospital.id).order_by(Hospital.level.desc(), Hospital.code).limit(3))).all()
    now = utcnow()
    count = 0
    for i, (title, body) in enumerate(ANNOUNCEMENTS):
        if hospitals:
            await publish_announcement(s, hospital_id=hospitals[i % len(hospitals)], title=title, body=body,
                                       published_at=now - timedelta(days=i + 1))
            count += 1
    for i, (title, category, body) in enumerate(ARTICLES):
        await publish_article(s, title=title, category=category, body=body, published_at=now - timedelta(days=2 * i + 1))
        count += 1
    return count
