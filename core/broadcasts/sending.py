"""Previewing, sending and following a broadcast (群发, R9.3).

A preview counts the audience's members, how many each chosen channel reaches (the member has
an address there) and how many opted out of non-essential messages. Sending writes, in one
transaction, the broadcast, one ``notifications`` row (kind ``broadcast``, the city's message
log) and one ``broadcast_messages`` row per member and channel, and one ``notify`` outbox
message per row still to send — the message names its notification, so a retry finds that row
and never sends twice. Opted-out members and members with no address on a channel are recorded
as ``skipped`` at once. The form's one-time ``request_key`` makes a second submit return the
broadcast already sent. The staff member's action is in the audit log.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.errors import NotFound, ValidationFailed
from guahao.core.models import Member, Notification
from guahao.core.models.broadcasts import Broadcast, BroadcastMessage
from guahao.core.notifications import compose, member_addresses
from guahao.core.outbox import emit
from guahao.tenants.context import CityContext, use_city

from .audience import Audience, Resolved, resolve

KIND = "broadcast"
CHANNELS = ("sms", "wechat", "email", "voice")
TEXT_MAX = 300
SMS_SEGMENT = 70  # characters of one Chinese SMS
OPTED_OUT = "member opted out of non-essential messages"
STATUS_GROUPS = {"pending": "pending", "retrying": "pending", "sent": "sent", "failed": "failed",
                 "dropped": "failed", "skipped": "skipped"}
"""A notification's status as a broadcast's page counts it (``retrying`` is still pending)."""
GROUPS = ("pending", "sent", "failed", "skipped")


def _refuse(code: str, zh: str, en: str, field: str, **details) -> ValidationFailed:
    return ValidationFailed(code, f"{zh} / {en}", details={"field": field, **details})


def checked_text(text: str) -> str:
    """The notice's text, trimmed; 422 when empty or longer than :data:`TEXT_MAX`."""
    text = " ".join((text or "").split())
    if not text:
        raise _refuse("text_required", "请填写通知内容", "write the notice", "text")
    if len(text) > TEXT_MAX:
        raise _refuse("text_too_long", f"通知内容不能超过{TEXT_MAX}字", f"the notice is longer than {TEXT_MAX} "
                      "characters", "text", max=TEXT_MAX)
    return text


def checked_channels(channels: list[str]) -> list[str]:
    """The chosen channels in a fixed order; 422 when none (or an unknown one) is chosen."""
    chosen = [c for c in CHANNELS if c in set(channels)]
    if not chosen or len(chosen) != len(set(channels)):
        raise _refuse("channels_required", "请选择发送渠道", "choose at least one channel", "channels")
    return chosen


def sendable_channels(plugins) -> set[str]:
    """The channels some enabled sender of the city delivers (``settings["channels"]`` narrows a
    sender's channels, as delivery does)."""
    found: set[str] = set()
    for sender in plugins.notification_senders():
        settings, _ = plugins.config_of(sender)
        allowed = settings.get("channels") or sender.channels
        found.update(c for c in sender.channels if c in allowed)
    return found


def segments(text: str) -> int:
    """SMS segments a text takes (70 characters each)."""
    return max(1, math.ceil(len(text) / SMS_SEGMENT))


@dataclass
class ChannelCount:
    """How many members of the audience one channel reaches (opted-out members not counted)."""

    channel: str
    reachable: int = 0
    no_address: int = 0


@dataclass
class Preview:
    """What sending would do.

    Parameters:
        resolved: the audience and its members.
        text: the checked notice text.
        channels: the chosen channels.
        opted_out: members who opted out of non-essential messages (recorded as skipped).
        counts: per channel, members reached and members with no address there.
        unavailable: chosen channels no enabled sender of the city delivers.
        example: the message as the first member (or 患者) reads it.
    """

    resolved: Resolved
    text: str
    channels: list[str]
    opted_out: int
    counts: list[ChannelCount]
    unavailable: list[str]
    example: str

    @property
    def members(self) -> int:
        return len(self.resolved.members)

    @property
    def chars(self) -> int:
        return len(self.example)

    @property
    def segments(self) -> int:
        return segments(self.example)

    @property
    def messages(self) -> int:
        return sum(c.reachable for c in self.counts)


async def preview(s: AsyncSession, city: CityContext, plugins, audience: Audience, text: str, channels: list[str],
                  hospital_ids: set[int] | None) -> Preview:
    """Check the notice and count what sending it would do (nothing is written)."""
    text, channels = checked_text(text), checked_channels(channels)
    resolved = await resolve(s, audience, hospital_ids)
    counts = {c: ChannelCount(c) for c in channels}
    opted_out = 0
    for member in resolved.members:
        if member.notifications_opt_out:
            opted_out += 1
            continue
        addresses = member_addresses(member, {})
        for c in channels:
            if addresses.get(c):
                counts[c].reachable += 1
            else:
                counts[c].no_address += 1
    sample = resolved.members[0] if resolved.members else Member(name="患者")
    example = compose(city, KIND, sample, None, {"text": text})
    available = sendable_channels(plugins)
    return Preview(resolved, text, channels, opted_out, list(counts.values()),
                   [c for c in channels if c not in available], example)


async def by_request_key(s: AsyncSession, request_key: str) -> Broadcast | None:
    return await s.scalar(select(Broadcast).where(Broadcast.request_key == request_key))


async def _write(s: AsyncSession, city: CityContext, actor: audit.Actor, p: Preview, request_key: str) -> Broadcast:
    a = p.resolved.audience
    b = Broadcast(hospital_id=a.hospital_id, scope=a.scope, department_id=a.department_id, session_id=a.session_id,
                  day=a.day, audience=p.resolved.label[:300], text=p.text, channels=list(p.channels),
                  members=p.members, request_key=request_key, sent_by=actor.label[:60], sent_by_name=actor.name[:120])
    s.add(b)
    await s.flush()  # a second submit of the same form stops here, on the request key
    planned: list[tuple[Member, str, Notification]] = []
    for member in p.resolved.members:
        addresses = member_addresses(member, {})
        body = compose(city, KIND, member, None, {"text": p.text})[:2000]
        for channel in p.channels:
            note = Notification(member_id=member.id, kind=KIND, recipient=(addresses.get(channel) or "")[:200],
                                body=body, essential=False, status="pending")
            if member.notifications_opt_out:
                note.status, note.error = "skipped", OPTED_OUT
            elif not addresses.get(channel):
                note.status, note.error = "skipped", f"the member has no address for {channel}"
            planned.append((member, channel, note))
    s.add_all([note for _, _, note in planned])
    await s.flush()
    for member, channel, note in planned:
        s.add(BroadcastMessage(broadcast_id=b.id, member_id=member.id, channel=channel, notification_id=note.id))
        if note.status == "pending":
            emit(s, "notify", {"kind": KIND, "member_id": member.id, "notification_id": note.id, "channel": channel,
                               "broadcast_id": b.id, "data": {"text": p.text}})
    audit.record(s, actor, "broadcast.send", target_type="broadcast", target_id=b.id,
                 summary=f"群发通知：{p.resolved.label}，{p.members}人，渠道 {'、'.join(p.channels)}",
                 after={"audience": p.resolved.label, "text": p.text, "channels": p.channels, "members": p.members,
                        "opted_out": p.opted_out, "messages": p.messages})
    return b


async def send(rt, city: CityContext, plugins, actor: audit.Actor, audience: Audience, text: str,
               channels: list[str], request_key: str, hospital_ids: set[int] | None) -> tuple[Broadcast, bool]:
    """Send the notice once per ``request_key``: ``(broadcast, True)`` when sent now,
    ``(broadcast, False)`` when this key's broadcast was sent already (a double submit)."""
    request_key = (request_key or "").strip()
    if not 16 <= len(request_key) <= 64:
        raise _refuse("invalid_request", "表单已失效，请重新预览后发送", "the form expired; preview again",
                      "request_key")
    with use_city(city):
        try:
            async with rt.db.transaction() as s:
                earlier = await by_request_key(s, request_key)
                if earlier is not None:
                    return await _scoped(s, earlier.id, hospital_ids), False
                p = await preview(s, city, plugins, audience, text, channels, hospital_ids)
                if p.unavailable:
                    raise _refuse("no_sender", "本市未启用以下渠道的发送插件：" + "、".join(p.unavailable),
                                  "no enabled sender delivers " + ", ".join(p.unavailable), "channels",
                                  channels=p.unavailable)
                if not p.members:
                    raise _refuse("empty_audience", "所选对象中没有有效预约的患者",
                                  "nobody holds an active booking there", "audience")
                return await _write(s, city, actor, p, request_key), True
        except IntegrityError:
            async with rt.db.transaction() as s:  # the same form submitted at the same moment
                earlier = await by_request_key(s, request_key)
                if earlier is None:
                    raise
                return await _scoped(s, earlier.id, hospital_ids), False


async def _scoped(s: AsyncSession, broadcast_id: int, hospital_ids: set[int] | None) -> Broadcast:
    b = await s.get(Broadcast, broadcast_id)
    if b is None or (hospital_ids is not None and b.hospital_id not in hospital_ids):
        raise NotFound("broadcast", code="broadcast_not_found")
    return b


@dataclass
class Recipient:
    """A member of a broadcast with the status of their message on each channel."""

    member_id: int
    name: str
    phone: str
    statuses: dict[str, str] = field(default_factory=dict)  # channel → notification status
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Status:
    broadcast: Broadcast
    recipients: list[Recipient]
    totals: dict[str, dict[str, int]]  # channel → status group → count


def _totals(channels: list[str], rows) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {c: dict.fromkeys(GROUPS, 0) for c in channels}
    for channel, status, n in rows:
        group = STATUS_GROUPS.get(status, "pending")
        totals.setdefault(channel, dict.fromkeys(GROUPS, 0))[group] += n
    return totals


async def status(s: AsyncSession, broadcast_id: int, hospital_ids: set[int] | None) -> Status:
    """A broadcast with every recipient's status per channel and totals; 404 outside the scope."""
    b = await _scoped(s, broadcast_id, hospital_ids)
    rows = (await s.execute(
        select(BroadcastMessage.member_id, BroadcastMessage.channel, Notification.status, Notification.error,
               Member.name, Member.phone)
        .join(Notification, Notification.id == BroadcastMessage.notification_id)
        .join(Member, Member.id == BroadcastMessage.member_id)
        .where(BroadcastMessage.broadcast_id == b.id)
        .order_by(BroadcastMessage.member_id, BroadcastMessage.id))).all()
    recipients: dict[int, Recipient] = {}
    counted: dict[tuple[str, str], int] = defaultdict(int)
    for member_id, channel, state, error, name, phone in rows:
        r = recipients.setdefault(member_id, Recipient(member_id, name, phone))
        r.statuses[channel] = state
        r.errors[channel] = error
        counted[(channel, state)] += 1
    return Status(b, list(recipients.values()),
                  _totals(list(b.channels), [(c, st, n) for (c, st), n in counted.items()]))


async def history(s: AsyncSession, hospital_ids: set[int] | None, limit: int = 100) -> list[Status]:
    """The latest broadcasts within the scope, newest first, with their totals (no recipients)."""
    q = select(Broadcast).order_by(Broadcast.created_at.desc(), Broadcast.id.desc()).limit(limit)
    if hospital_ids is not None:
        q = q.where(Broadcast.hospital_id.in_(hospital_ids or {-1}))
    found = list((await s.scalars(q)).all())
    if not found:
        return []
    rows = (await s.execute(
        select(BroadcastMessage.broadcast_id, BroadcastMessage.channel, Notification.status, func.count())
        .join(Notification, Notification.id == BroadcastMessage.notification_id)
        .where(BroadcastMessage.broadcast_id.in_([b.id for b in found]))
        .group_by(BroadcastMessage.broadcast_id, BroadcastMessage.channel, Notification.status))).all()
    per: dict[int, list] = defaultdict(list)
    for bid, channel, state, n in rows:
        per[bid].append((channel, state, n))
    return [Status(b, [], _totals(list(b.channels), per[b.id])) for b in found]
