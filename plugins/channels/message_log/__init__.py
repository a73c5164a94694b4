"""The message log: a notification sender that delivers into the city's own log.

Nothing leaves the platform: the message is "sent" by being accepted, after which core marks
its ``notifications`` row sent — that table is the per-city message log the demo shows. Useful
for demos, for cities that have not contracted an SMS gateway yet, and as the reference sender.
"""

from __future__ import annotations

from typing import Mapping

from guahao.core.hookspecs import hookimpl
from guahao.core.plugins.interfaces import NotificationSender, OutgoingMessage, SendResult

from .meta import META  # noqa: F401  (the plugin's declaration)

NAME = "message_log"


class MessageLogSender(NotificationSender):
    """Accepts every message on the channels it lists (``settings["channels"]`` narrows them)."""

    name = NAME
    verbose_name = "站内消息记录"
    channels = frozenset({"sms", "wechat", "email", "voice", "push"})

    async def send(self, city, message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        allowed = settings.get("channels")
        if allowed and message.channel not in allowed:
            return SendResult.refused(f"channel {message.channel} disabled for the message log")
        if not message.recipient:
            return SendResult.unreachable("no recipient")
        return SendResult.sent(f"log-{message.notification_id}")


@hookimpl
def guahao_notification_senders():
    return [MessageLogSender()]
