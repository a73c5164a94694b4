"""Delivering planned notifications (R9): which sender, retries, and what each outcome records.

A city may enable several senders. The message goes to the best route that can reach the
member (``routes``); when a WeChat route cannot carry it (``unreachable``, or a failure that
will not pass on a retry: the follower left, the kind has no template) the next route tries,
so the notice goes by SMS (:data:`PASSES_ON`). The last sender's ``SendResult`` decides what
happens, and the
``notifications`` row's ``status`` says it without any reading of error text:

- ``sent``: delivered.
- ``skipped``: the sender cannot reach this member (``SendResult.unreachable``), no sender can
  (no address on any enabled channel), or the member opted out; nothing to retry.
- ``retrying``: this attempt failed and the outbox will try again (a retryable failure before
  the outbox's last attempt); ``SendFailed``/``NoSender`` is raised so it backs off.
- ``failed``: failed for good (a permanent failure, or the last attempt's).
- ``dropped``: worth nothing once late and the moment has passed — a one-time login code past
  its expiry, a waiting-list offer past its deadline. The payload names the moment
  (``expires_at``, or the offer's ``data.offer_expires_at``); delivery after it stops there.

The console lists ``retrying``, ``failed`` and ``dropped`` rows (``failures``): what is failing
now and what failed or was dropped for good.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from guahao.core import metrics
from guahao.core.models import Notification
from guahao.core.outbox import emit
from guahao.core.plugins.http import TransportError
from guahao.core.plugins.interfaces import OutgoingMessage, SendResult
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext

from .errors import NoSender, SendFailed
from .planning import plan
from .sharing import sharing

log = logging.getLogger("guahao.notifications")

CHANNEL_ORDER = ("sms", "wechat", "email", "voice", "push")
DEFAULT_PRIORITY = 100
DONE = ("sent", "skipped", "dropped")  # statuses a later run of the same message leaves alone
PASSES_ON = frozenset({"wechat"})
"""Channels that hand a message they cannot carry to the next route instead of failing it:
WeChat reaches only followers, and only with a template per kind, so SMS stays the way that
always works. Other channels' failures stay theirs (staff see them)."""


def routes(plugins, addresses: dict[str, str], only: str | None = None) -> list[tuple[object, str]]:
    """``(sender, channel)`` pairs able to reach the member, best first.

    A sender's ``priority`` (its plugin settings, else the class attribute, else 100; lower
    wins) decides; ties go by channel (SMS first) and plugin name. ``settings["channels"]``
    narrows the channels a sender is used for.
    """
    found = []
    for sender in plugins.notification_senders():
        settings, _ = plugins.config_of(sender)
        priority = int(settings.get("priority", getattr(sender, "priority", DEFAULT_PRIORITY)))
        allowed = settings.get("channels") or sender.channels
        for channel in sender.channels:
            if channel in allowed and channel in addresses and (only is None or channel == only):
                rank = CHANNEL_ORDER.index(channel) if channel in CHANNEL_ORDER else len(CHANNEL_ORDER)
                found.append(((priority, rank, sender.name), sender, channel))
    return [(sender, channel) for _, sender, channel in sorted(found, key=lambda f: f[0])]


async def deliver(
    rt, city: CityContext, plugins, payload: dict, *, channel: str | None = None, final: bool = False
) -> Notification | None:
    """Plan the message of a ``notify`` outbox payload and send it once, on the best route.

    Returns the notification (``None`` when nothing applies any more). A retryable failure
    raises ``NoSender`` or ``SendFailed`` so the outbox tries again with back-off; a permanent
    one is recorded and returns. ``final`` marks the outbox's last attempt: its failure is
    recorded as ``failed``, not ``retrying``. ``channel`` (or ``payload["channel"]``) forces a
    channel.
    """
    async with rt.db.transaction() as s:
        planned = await plan(s, city, payload, public_base_url=rt.settings.public_base_url)
    if planned is None:
        return None
    note = planned.note
    if note.status in DONE:
        return note
    deadline = expires_at(payload)
    if deadline is not None and deadline <= utcnow():
        await _record(rt, note.id, status="dropped",
                      error=f"not sent: the message expired at {deadline.isoformat()} before it could be delivered")
        return note
    channel = channel or payload.get("channel")
    candidates = routes(plugins, planned.addresses, channel)
    if not candidates:
        if not plugins.notification_senders(channel):
            await _record_failure(rt, note.id, "", f"no enabled sender for channel {channel or 'any'}", retry=not final)
            raise NoSender(f"city {city.slug} has no enabled sender for {channel or 'any channel'}")
        await _record(rt, note.id, status="skipped", error="no enabled sender can reach this member (no address)")
        return note
    for turn, (sender, channel) in enumerate(candidates):
        recipient = planned.addresses[channel]
        settings, secrets = plugins.config_of(sender)
        message = OutgoingMessage(
            notification_id=note.id,
            kind=note.kind,
            channel=channel,
            recipient=recipient,
            body=note.body,
            member_id=note.member_id,
            booking_id=note.booking_id,
            essential=note.essential,
            params=planned.params,
        )
        try:
            with sharing(getattr(rt, "redis", None)), metrics.provider_call("sender", sender.name, "send"):
                result = await sender.send(city, message, settings, secrets)
        except TransportError as exc:
            result = SendResult.from_error(exc)
        except Exception as exc:  # a sender's own fault: retried, with its traceback on the outbox row
            await _record_failure(rt, note.id, sender.name, f"{type(exc).__name__}: {exc}", retry=not final,
                                  recipient=recipient)
            raise SendFailed(f"{sender.name}: {exc}") from exc
        if channel in PASSES_ON and turn + 1 < len(candidates) and (
                result.status == "unreachable" or (result.status == "failed" and not result.retryable)):
            # WeChat cannot carry this one (a follower who left, a kind with no template): the
            # next route does, e.g. SMS.
            log.info("notification %s: %s could not deliver it (%s); the next route tries", note.id, sender.name,
                     result.error)
            continue
        break
    if result.status == "unreachable":
        await _record(rt, note.id, status="skipped", error=result.error, sender=sender.name, recipient=recipient)
        return note
    if result.status == "failed":
        await _record_failure(rt, note.id, sender.name, result.error or "refused", retry=result.retryable and not final,
                              recipient=recipient)
        if result.retryable:
            raise SendFailed(_named(sender.name, result.error), retry_after=result.retry_after)
        return note
    async with rt.db.transaction() as s:
        row = await s.scalar(select(Notification).where(Notification.id == note.id))
        row.status = "sent"
        row.sender = sender.name
        row.recipient = recipient[:200]
        row.sent_at = utcnow()
        row.attempts += 1
        row.error = ""
        emit(s, "notification.sent", {"notification_id": row.id, "channel": channel})
    return row


def _named(sender: str, error: str) -> str:
    """The error with the sender's name in front, once (for the outbox row's ``last_error``)."""
    return error if error.startswith(sender) else f"{sender}: {error}"


def expires_at(payload: dict) -> datetime | None:
    """When the message of a ``notify`` payload stops being worth sending (``None``: never)."""
    value = payload.get("expires_at")
    if value is None and payload.get("kind") == "waitlist_offer":
        value = (payload.get("data") or {}).get("offer_expires_at")
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


async def _record(rt, note_id: int, *, status: str, error: str, sender: str = "", recipient: str | None = None) -> None:
    async with rt.db.transaction() as s:
        row = await s.scalar(select(Notification).where(Notification.id == note_id))
        row.status = status
        row.error = error[:1000]
        row.sender = sender or row.sender
        if recipient is not None:
            row.recipient = recipient[:200]


async def _record_failure(rt, note_id: int, sender: str, error: str, *, retry: bool, recipient: str | None = None) -> None:
    """The attempt failed: ``retrying`` when a later run of the same outbox message may still
    turn it into ``sent``, else ``failed``; staff see both."""
    async with rt.db.transaction() as s:
        row = await s.scalar(select(Notification).where(Notification.id == note_id))
        row.attempts += 1
        row.sender = sender
        row.error = error[:1000]
        row.status = "retrying" if retry else "failed"
        if recipient is not None:
            row.recipient = recipient[:200]


def notification_event(note: Notification, channel: str) -> dict:
    """What ``guahao_notification_sent`` receives (metering counts messages per channel)."""
    return {
        "id": note.id,
        "kind": note.kind,
        "sender": note.sender,
        "channel": channel,
        "member_id": note.member_id,
        "booking_id": note.booking_id,
        "sent_at": note.sent_at.isoformat() if note.sent_at else None,
        "chars": len(note.body or ""),  # an SMS is billed per 70 characters
    }
