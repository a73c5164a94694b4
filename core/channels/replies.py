"""Texts a channel sends to a phone number (an SMS booking's answer, a phone call's payment
link): written to the city's message log (``notifications``) with the change that causes them,
delivered later by an outbox job through the city's SMS sender.

:func:`queue_text` adds the log row and the outbox message in the caller's transaction; the
channel's outbox handler calls :func:`deliver_text`, which sends the row once (a row already
sent is left alone, so a retried job never sends twice), through the best enabled SMS sender
(``core.notifications.routes``), and records the outcome the way notifications are recorded.
The text reaches provider templates as the ``text`` parameter (a city maps the kind
``channel_reply`` to a template with one variable), beside ``city``. :func:`texts_sent_to` reads
back what the log shows as delivered to a number (a simulated phone's inbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import metrics
from guahao.core.jobs.context import MAX_ATTEMPTS
from guahao.core.models import Notification
from guahao.core.notifications import NoSender, SendFailed, routes
from guahao.core.outbox import emit
from guahao.core.plugins.http import TransportError
from guahao.core.plugins.interfaces import OutgoingMessage, SendResult
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext

REPLY_KIND = "channel_reply"
DONE = ("sent", "skipped", "dropped", "failed")


def signature(city: CityContext) -> str:
    """The platform's signature at the start of every text (as ``core.notifications`` writes it)."""
    return f"【{city.name}预约挂号】"


@dataclass(frozen=True)
class SentText:
    """A text the message log shows as sent: its row id, the body as delivered (signature
    first), its kind and when the sender took it."""

    id: int
    body: str
    kind: str
    sent_at: datetime


async def texts_sent_to(rt, phone: str, *, limit: int = 30) -> list[SentText]:
    """The current city's latest ``limit`` texts sent to the mobile number ``phone`` (any kind:
    channel replies, confirmations, reminders), oldest first."""
    async with rt.db.transaction() as s:
        rows = (await s.scalars(
            select(Notification).where(Notification.recipient == phone, Notification.status == "sent")
            .order_by(Notification.id.desc()).limit(limit)
        )).all()
    return [SentText(r.id, r.body, r.kind, r.sent_at or r.created_at) for r in reversed(rows)]


async def queue_text(
    s: AsyncSession, city: CityContext, *, topic: str, phone: str, text: str, member_id: int | None = None,
    booking_id: str | None = None,
) -> Notification:
    """Log ``text`` for ``phone`` and emit ``topic`` (payload ``{"notification_id"}``, handled
    by the channel with :func:`deliver_text`) to send it, both in the caller's transaction."""
    note = Notification(member_id=member_id, booking_id=booking_id, kind=REPLY_KIND, recipient=phone[:200],
                        body=(signature(city) + text)[:2000], essential=True, status="pending")
    s.add(note)
    await s.flush()
    emit(s, topic, {"notification_id": note.id})
    return note


async def deliver_text(rt, city: CityContext, plugins, notification_id: int, *, attempt: int = 1) -> Notification | None:
    """Send a queued text once through the city's best SMS sender and record the outcome.

    Raises ``SendFailed``/``NoSender`` for a failure worth another try (the outbox backs off),
    unless this is the outbox's last attempt (``attempt`` ≥ ``MAX_ATTEMPTS``): a text is of no
    use late, so it is then recorded as ``failed``."""
    final = attempt >= MAX_ATTEMPTS
    async with rt.db.transaction() as s:
        note = await s.scalar(select(Notification).where(Notification.id == notification_id))
    if note is None or note.status in DONE:
        return note
    candidates = routes(plugins, {"sms": note.recipient}, "sms")
    if not candidates:
        await _record(rt, note.id, "failed" if final else "retrying", "no enabled SMS sender")
        if final:
            return note
        raise NoSender(f"city {city.slug} has no enabled SMS sender")
    sender, _channel = candidates[0]
    settings, secrets = plugins.config_of(sender)
    prefix = signature(city)
    text = note.body[len(prefix):] if note.body.startswith(prefix) else note.body
    message = OutgoingMessage(notification_id=note.id, kind=REPLY_KIND, channel="sms", recipient=note.recipient,
                              body=note.body, member_id=note.member_id, booking_id=note.booking_id,
                              params={"text": text, "city": city.name})
    try:
        with metrics.provider_call("sender", sender.name, "send"):
            result = await sender.send(city, message, settings, secrets)
    except TransportError as exc:
        result = SendResult.from_error(exc)
    if result.status == "unreachable":
        await _record(rt, note.id, "skipped", result.error, sender.name)
        return note
    if result.status == "failed":
        again = result.retryable and not final
        await _record(rt, note.id, "retrying" if again else "failed", result.error or "refused", sender.name)
        if again:
            raise SendFailed(f"{sender.name}: {result.error}", retry_after=result.retry_after)
        return note
    async with rt.db.transaction() as s:
        row = await s.scalar(select(Notification).where(Notification.id == note.id))
        row.status, row.sender, row.sent_at, row.error = "sent", sender.name, utcnow(), ""
        row.attempts += 1
        emit(s, "notification.sent", {"notification_id": row.id, "channel": "sms"})
    return row


async def _record(rt, note_id: int, status: str, error: str, sender: str = "") -> None:
    async with rt.db.transaction() as s:
        row = await s.scalar(select(Notification).where(Notification.id == note_id))
        row.status, row.error = status, (error or "")[:1000]
        row.sender = sender or row.sender
        row.attempts += 1
