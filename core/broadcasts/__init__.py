"""Broadcasts (群发, R9.3): staff send a notice to everyone booked in a session, a department or
a hospital on a day, by SMS, WeChat, e-mail and voice call, through the outbox.

- ``audience``: who a broadcast reaches, within the staff member's hospitals (``Audience``, ``resolve``).
- ``sending``: preview counts, sending once per form, each recipient's status per channel
  (``preview``, ``send``, ``status``, ``history``).
"""

from .audience import BOOKED, Audience, Resolved, resolve
from .sending import CHANNELS, GROUPS, KIND, SMS_SEGMENT, STATUS_GROUPS, TEXT_MAX, Preview, Status, history, preview, send, status

__all__ = [
    "BOOKED",
    "CHANNELS",
    "GROUPS",
    "KIND",
    "SMS_SEGMENT",
    "STATUS_GROUPS",
    "TEXT_MAX",
    "Audience",
    "Preview",
    "Resolved",
    "Status",
    "history",
    "preview",
    "resolve",
    "send",
    "status",
]
