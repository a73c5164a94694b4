"""A test city whose SMS goes through ``sms_aliyun`` to the fake gateway."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.models import Notification
from guahao.tenants.context import CityContext, use_city
from tests.core.plugins.probes import enable

TEMPLATES = {
    "booking_confirmed": {"code": "SMS_CONFIRM", "params": {"name": "name", "no": "booking_no", "time": "when"}},
    "booking_cancelled": {"code": "SMS_CANCEL", "params": {"name": "name", "no": "booking_no"}},
    "reminder_day_before": {"code": "SMS_REMIND", "params": {"no": "booking_no", "time": "when"}},
    "reminder_30min": {"code": "SMS_REMIND", "params": {"no": "booking_no", "time": "when"}},
    "waitlist_offer": {"code": "SMS_OFFER", "params": {"no": "booking_no", "deadline": "deadline"}},
    "survey_invitation": {"code": "SMS_SURVEY", "params": {"name": "name"}},
    "announcement": {"code": "SMS_TEXT", "params": {"text": "text"}},
}


async def enable_aliyun(rt, city: CityContext, fake, **settings) -> tuple[CityContext, str]:
    """Point the city's ``sms_aliyun`` at ``fake`` with a key of its own; returns the key id."""
    key_id, secret = fake.add_key()
    for spec in TEMPLATES.values():
        fake.templates[spec["code"]] = set(spec["params"])
    city = await enable(
        rt, city, "sms_aliyun",
        settings={"sign_name": "测试预约挂号", "endpoint": fake.url, "templates": TEMPLATES, **settings},
        secrets={"access_key_id": key_id, "access_key_secret": secret},
    )
    return city, key_id


async def notes(rt, city: CityContext, **where) -> list[Notification]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(Notification).order_by(Notification.id)
            for key, value in where.items():
                q = q.where(getattr(Notification, key) == value)
            return list((await s.scalars(q)).all())
