"""The public plugin API: everything a plugin may import from the platform, and nothing else.

A plugin (built-in or third-party) imports from this module only; the rest of the platform is
internal and may change between releases. The API is versioned (:data:`API_VERSION`); a plugin
declares the range it works with in its ``META`` (``compatibility=">=1.0,<2"``) and is left
out, with the reason shown to operators, when the running API is outside it.

Contents (the guide in ``docs/plugins.md`` walks through them):

- declaring a plugin: :class:`PluginMeta`, :class:`PluginSettings`, :func:`setting`,
  :data:`API_VERSION`, :data:`CATEGORIES`, :data:`hookimpl`;
- payment providers: :class:`PaymentProvider`, :class:`PaymentIntent`, :class:`PaymentResult`,
  :class:`RefundResult`, :class:`PaymentError`;
- hospital systems: :class:`HisAdapter`, :class:`HisAck`, :class:`ScheduleItem`;
- notifications: :class:`NotificationSender`, :class:`OutgoingMessage`, :class:`SendResult`,
  :func:`template_for`, :func:`shared_redis`;
- errors people can act on: :class:`DomainError`, :class:`NotFound`, :class:`Conflict`,
  :class:`Forbidden`, :class:`Unauthorized`, :class:`ValidationFailed`;
- the city a call is for: :class:`CityContext`, :func:`current_city`, :func:`use_city`;
- time: :func:`utcnow`.
"""

from __future__ import annotations

from core.errors import Conflict, DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed
from core.hookspecs import hookimpl
from core.jobs.delivery import shared_redis
from core.notify import Template, template_for
from core.plugins.interfaces import (
    HisAck,
    HisAdapter,
    NotificationSender,
    OutgoingMessage,
    PaymentError,
    PaymentIntent,
    PaymentProvider,
    PaymentResult,
    RefundResult,
    ScheduleItem,
    SendResult,
)
from core.plugins.meta import API_VERSION, CATEGORIES, PluginMeta
from core.plugins.settings import FieldError, PluginSettings, SettingsInvalid, setting
from tenants.clock import utcnow
from tenants.context import CityContext, current_city, use_city

__all__ = [
    "API_VERSION",
    "CATEGORIES",
    "CityContext",
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "HisAck",
    "HisAdapter",
    "NotFound",
    "NotificationSender",
    "OutgoingMessage",
    "PaymentError",
    "PaymentIntent",
    "PaymentProvider",
    "PaymentResult",
    "PluginMeta",
    "PluginSettings",
    "RefundResult",
    "ScheduleItem",
    "SendResult",
    "SettingsInvalid",
    "Template",
    "Unauthorized",
    "ValidationFailed",
    "current_city",
    "hookimpl",
    "setting",
    "shared_redis",
    "template_for",
    "use_city",
    "utcnow",
]
