"""The outbox jobs of SMS booking: act on a stored message once and queue its reply, then send
the reply through the city's SMS sender.

Acting is safe to repeat: a message already answered is skipped, the booking carries the
message's idempotency key (a second run gets the same booking back), and the reply is queued
only by the run that marks the message done (a conditional update).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from guahao.plugin_api import channels, city_session, utcnow

from . import dialog
from .grammar import parse
from .models import SmsInboundMessage

REPLY_TOPIC = "sms_inbound.reply"
CHOICES_VALID = timedelta(minutes=30)


async def _pending_choices(rt, city, row: SmsInboundMessage) -> dict:
    """The numbered choices the last answered message from this phone offered (30 minutes)."""
    async with city_session(rt, city) as s:
        last = await s.scalar(
            select(SmsInboundMessage)
            .where(SmsInboundMessage.phone == row.phone, SmsInboundMessage.id < row.id,
                   SmsInboundMessage.status == "done", SmsInboundMessage.received_at >= utcnow() - CHOICES_VALID)
            .order_by(SmsInboundMessage.id.desc()).limit(1)
        )
    return dict(last.choices or {}) if last is not None else {}


async def process(ctx, payload: dict) -> None:
    rt, city = ctx.rt, ctx.city
    async with city_session(rt, city) as s:
        row = await s.scalar(select(SmsInboundMessage).where(SmsInboundMessage.id == payload["message"]))
    if row is None or row.status == "done":
        return
    settings = ctx.plugins.settings("sms_inbound")
    member = await channels.member_by_phone(rt, row.phone)
    request = parse(row.text, utcnow().astimezone(city.tz).date())
    answer = await dialog.answer(rt, city, member, request, key=f"sms:{row.id}", aliases=dict(settings.get("aliases") or {}),
                                 pending=await _pending_choices(rt, city, row))
    async with city_session(rt, city) as s:
        marked = await s.execute(
            update(SmsInboundMessage)
            .where(SmsInboundMessage.id == row.id, SmsInboundMessage.status == "received")
            .values(status="done", outcome=answer.outcome[:40], member_id=member.id if member else None,
                    booking_id=answer.booking_id, choices=answer.choices)
        )
        if marked.rowcount == 1 and answer.text:
            await channels.queue_text(s, city, topic=REPLY_TOPIC, phone=channels.mainland_mobile(row.phone) or row.phone,
                                      text=answer.text, member_id=member.id if member else None,
                                      booking_id=answer.booking_id or None)


async def reply(ctx, payload: dict) -> None:
    await channels.deliver_text(ctx.rt, ctx.city, ctx.plugins, payload["notification_id"], attempt=ctx.attempt)
