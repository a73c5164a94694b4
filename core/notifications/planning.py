"""Planning a notification (R9): a ``notify`` outbox message becomes one ``Notification`` row
(the city's message log) with its text, the member's addresses and the provider template values.

Re-running the same message finds that row again, so a retry never sends twice what was
already delivered (``delivery`` sends it). A message that no longer applies (a reminder for a
booking cancelled since) is not planned; a non-essential one for a member who opted out is
recorded as ``skipped``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Member, Notification
from guahao.tenants.context import CityContext
from guahao.tenants.models import CityHost

from .facts import load_facts
from .templates import message_params
from .texts import KINDS, compose

log = logging.getLogger("guahao.notify")


@dataclass
class Planned:
    """A notification row with what its delivery needs: template params and addresses."""

    note: Notification
    params: dict[str, str]
    addresses: dict[str, str]  # channel → the member's address on it


ANSWERED_ON_ITS_CHANNEL = frozenset({"booking_confirmed"})
"""Kinds a booking made by SMS has already answered on the member's phone: the reply to the
member's text states the booking, so the same notice is not texted (or called) again; WeChat
and e-mail still carry it."""


def member_addresses(member: Member, payload: dict) -> dict[str, str]:
    """Where a member can be reached, per channel.

    The member's mobile number, e-mail and WeChat openid (R1.5); a notification's
    ``recipients`` (``{"email": …, "wechat": …}``) overrides them.
    """
    found = {
        "sms": member.phone,
        "voice": member.phone,
        "email": member.email or "",
        "wechat": member.wechat_openid or "",
    }
    found.update({k: str(v) for k, v in (payload.get("recipients") or {}).items() if v})
    return {k: v for k, v in found.items() if v}


async def link_base(s: AsyncSession, city: CityContext, public_base_url: str = "") -> str:
    """Where links in a city's messages start: the city's first host name, else the platform's
    public address (``Settings.public_base_url``), else ``""`` (links stay relative)."""
    host = await s.scalar(select(CityHost.host).where(CityHost.city_id == city.id).order_by(CityHost.host).limit(1))
    if host:
        return f"https://{host}"
    return (public_base_url or "").rstrip("/")


def absolute(base: str, path: str) -> str:
    """``path`` under ``base`` when it is a path of ours and a base is known; else unchanged."""
    return base + path if base and path.startswith("/") and not path.startswith("//") else path


async def _with_links(s: AsyncSession, city: CityContext, kind: str, booking_id: str | None, data: dict,
                      public_base_url: str) -> dict:
    """The message data with its links made absolute; a waitlist offer links to its booking."""
    if kind == "waitlist_offer" and booking_id and not data.get("url"):
        data = {**data, "url": f"/c/{city.slug}/bookings/{booking_id}"}
    if isinstance(data.get("url"), str) and data["url"].startswith("/"):
        data = {**data, "url": absolute(await link_base(s, city, public_base_url), data["url"])}
    return data


async def plan(s: AsyncSession, city: CityContext, payload: dict, *, public_base_url: str = "") -> Planned | None:
    """Find or create the notification row for ``payload``; ``None`` when it no longer applies.

    ``public_base_url`` (``Settings.public_base_url``) makes links absolute when the city has
    no host name of its own."""
    kind = payload.get("kind")
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown notification kind {kind!r}")
    member = await s.scalar(select(Member).where(Member.id == payload.get("member_id")))
    if member is None:
        log.warning("notification %s for unknown member %s dropped", kind, payload.get("member_id"))
        return None
    booking_id = payload.get("booking_id")
    facts = await load_facts(s, booking_id) if booking_id else None
    if spec.needs_booking and facts is None:
        log.warning("notification %s for unknown booking %s dropped", kind, booking_id)
        return None
    if facts is not None and spec.statuses and str(facts.booking.status) not in spec.statuses:
        return None  # e.g. a reminder for a booking cancelled since
    data = await _with_links(s, city, kind, booking_id, payload.get("data") or {}, public_base_url)
    body = compose(city, kind, member, facts, data)

    addresses = member_addresses(member, payload)
    if kind in ANSWERED_ON_ITS_CHANNEL and facts is not None and str(facts.booking.channel) == "sms":
        addresses.pop("sms", None)  # the member's own text was answered already,
        addresses.pop("voice", None)  # and a call to the same phone would only repeat it

    def planned(note: Notification) -> Planned:
        return Planned(note, message_params(city, kind, member, facts, data), addresses)

    if payload.get("notification_id"):  # written beforehand (a broadcast's row per member and channel)
        written = await s.scalar(select(Notification).where(Notification.id == payload["notification_id"],
                                                            Notification.member_id == member.id))
        if written is not None:
            return planned(written)
    same = select(Notification).where(
        Notification.member_id == member.id,
        Notification.kind == kind,
        Notification.booking_id == booking_id if booking_id else Notification.booking_id.is_(None),
    )
    if not booking_id:
        same = same.where(Notification.body == body)
    existing = await s.scalar(same.order_by(Notification.id).limit(1))
    if existing is not None:
        return planned(existing)
    row = Notification(
        member_id=member.id,
        booking_id=booking_id,
        kind=kind,
        recipient=member.phone,
        body=body[:2000],
        essential=spec.essential,
        status="pending",
    )
    if not spec.essential and member.notifications_opt_out:
        row.status = "skipped"
        row.error = "member opted out of non-essential messages"
    s.add(row)
    await s.flush()
    return planned(row)
