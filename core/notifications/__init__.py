"""Notifications to members (R9): what each message says, whether it still applies, who sends it.

A ``notify`` outbox message is planned into one ``Notification`` row (the city's message log)
and delivered once through the city's preferred sender; its outcome is recorded on the row and
failures are listed for staff.

- ``facts``: what a booking message states (booking, hospital, doctor, time, place, fee).
- ``texts``: the text of each notification kind (``KINDS``, ``compose``).
- ``templates``: provider template values (``message_params``, ``template_for``, ``Template``).
- ``planning``: the notification row of a message, the member's addresses, absolute links (``plan``).
- ``delivery``: choosing the sender, sending, recording the outcome (``deliver``, ``routes``).
- ``sharing``: the Redis senders share across workers (``shared_redis``, ``sharing``).
- ``failures``: failing, failed and dropped messages for the console (``failed_notifications``).
- ``errors``: ``NoSender`` and ``SendFailed``, the failures the outbox retries.
"""

from .delivery import deliver, expires_at, notification_event, routes
from .errors import NoSender, SendFailed
from .facts import BookingFacts, load_facts
from .failures import failed_notifications
from .planning import Planned, absolute, link_base, member_addresses, plan
from .sharing import shared_redis, sharing
from .templates import Template, message_params, template_for
from .texts import KINDS, Kind, compose, login_code

__all__ = [
    "KINDS",
    "BookingFacts",
    "Kind",
    "NoSender",
    "Planned",
    "SendFailed",
    "Template",
    "absolute",
    "compose",
    "deliver",
    "expires_at",
    "failed_notifications",
    "link_base",
    "load_facts",
    "login_code",
    "member_addresses",
    "message_params",
    "notification_event",
    "plan",
    "routes",
    "shared_redis",
    "sharing",
    "template_for",
]
