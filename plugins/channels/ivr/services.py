"""The menu's view of the platform (:class:`.dialog.Services`), through the channel services
facade (``guahao.plugin_api.channels``): the same members, catalogue, booking engine and rules
as the web, with ``phone`` recorded as the booking's channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from guahao.plugin_api import DomainError, channels, utcnow

from . import keypad
from .dialog import Refused

CHANNEL = "phone"
SMS_TOPIC = "ivr.sms"


@dataclass(frozen=True)
class Hospital:
    """A hospital as the menu offers it, with the key sequences that spell its initials."""

    id: int
    name: str
    keys: list[str]


class PlatformServices:
    """The real services for one call of ``city``; ``site`` is the public address of the city
    (``https://host``) payment links point to."""

    def __init__(self, rt, city, settings: dict, site: str):
        self.rt, self.city, self.settings, self.site = rt, city, settings, site.rstrip("/")
        self.today: date = utcnow().astimezone(city.tz).date()

    async def member_by_phone(self, phone: str):
        return await channels.member_by_phone(self.rt, phone)

    async def check_pin(self, member_id: int, digits: str) -> bool:
        """The PIN check; a member locked by recent failures is refused (``too_many_attempts``)."""
        try:
            return await channels.check_pin(self.rt, member_id, digits)
        except DomainError as refused:
            raise Refused(refused.code, refused.message) from None

    async def hospitals(self) -> list[Hospital]:
        initials = dict(self.settings.get("initials") or {})
        return [
            Hospital(h.id, h.name, keypad.spellings(h.name, h.detail, keypad.configured(initials, h.code)))
            for h in await channels.list_hospitals(self.rt)
        ]

    async def departments(self, hospital_id: int) -> list:
        return await channels.list_departments(self.rt, hospital_id)

    async def doctors(self, hospital_id: int, department_id: int) -> list:
        return await channels.list_doctors(self.rt, hospital_id, department_id)

    async def slots(self, department_id: int, day: date, half_day: str = "", doctor_id: int | None = None) -> list:
        return await channels.find_slots(self.rt, department_id=department_id, day=day, half_day=half_day,
                                         doctor_id=doctor_id)

    async def book(self, member_id: int, slots: list, key: str):
        try:
            body = await channels.book_first_free(self.rt, member_id=member_id, slots=slots, channel=CHANNEL,
                                                  idempotency_key=key)
        except DomainError as refused:
            raise Refused(refused.code, refused.message) from None
        return await channels.summary(self.rt, body)

    async def upcoming(self, member_id: int) -> list:
        return await channels.upcoming(self.rt, member_id=member_id, limit=5)

    async def cancel(self, member_id: int, ref: str):
        try:
            return await channels.cancel(self.rt, member_id=member_id, ref=ref, reason="电话取消")
        except DomainError as refused:
            raise Refused(refused.code, refused.message) from None

    async def send_pay_link(self, s, member_id: int, phone: str, ref: str) -> None:
        """Queue, in the session ``s``, an SMS with the booking's payment page (sent by the
        ``ivr.sms`` outbox job)."""
        link = f"{self.site}/c/{self.city.slug}/bookings/{ref}/pay"
        await channels.queue_text(s, self.city, topic=SMS_TOPIC, phone=phone,
                                  text=f"您电话预约的{ref}，请点击链接支付挂号费：{link}", member_id=member_id,
                                  booking_id=ref)
