"""The public plugin API: everything a plugin may import from the platform, and nothing else.

A plugin (built-in or third-party) imports from this module only; the rest of the platform is
internal and may change between releases. The API is versioned (:data:`API_VERSION`); a plugin
declares the range it works with in its ``META`` (``compatibility=">=1.0,<2"``) and is left
out, with the reason shown to operators, when the running API is outside it.

Contents (the guide in ``docs/plugins.md`` walks through them):

- declaring a plugin: :class:`PluginMeta`, :class:`PluginSettings`, :func:`setting`,
  :func:`endpoint_setting`, :func:`timeout_setting`,
  :data:`API_VERSION`, :data:`CATEGORIES`, :data:`hookimpl`;
- payment providers: :class:`PaymentProvider`, :class:`PaymentIntent`, :class:`PaymentResult`,
  :class:`RefundResult`, :class:`PaymentError`, :class:`StatementLine` (a line of a
  provider's daily statement, for ``PaymentProvider.statement``);
- hospital systems: :class:`HisAdapter`, :class:`HisAck`, :class:`ScheduleItem`,
  :class:`VisitStatus`, :class:`FeeItem`, :class:`HisHealth`, :class:`HisRejected`,
  :data:`HIS_OPERATIONS`, :data:`VISIT_OUTCOMES`;
- notifications: :class:`NotificationSender`, :class:`OutgoingMessage`, :class:`SendResult`,
  :class:`SenderSettings`, :func:`template_for`, :func:`shared_redis`;
- outbound HTTP: :class:`HttpClient`, :class:`TransportError`, :func:`expect_success`,
  :func:`json_answer`;
- the platform's services and a plugin's own tables: :func:`check_in`, :func:`city_session`,
  :func:`emit` (a side effect in the outbox, in the caller's transaction),
  :func:`report_usage` (billable usage for the city's ledger),
  :class:`TenantModel`, :func:`protect_tenant_table` (in a plugin's migration);
- errors people can act on: :class:`DomainError`, :class:`NotFound`, :class:`Conflict`,
  :class:`DeliveryRefused` (an outbox delivery the far end refused for good),
  :class:`Forbidden`, :class:`Unauthorized`, :class:`ValidationFailed`;
- the city a call is for: :class:`CityContext`, :func:`current_city`, :func:`use_city`;
- time: :func:`utcnow`;
- what a patient channel (SMS, phone) needs from the booking engine: :mod:`channels` (members by
  phone, catalogue by words, slots of a day, book, cancel, list, texts to a phone, members by
  WeChat openid);
- WeChat apps' access tokens, shared by every plugin and process that calls the WeChat API with
  the same app: :mod:`wechat` (``access_token``, ``forget``, ``call``, ``WeChatError``).
"""

from __future__ import annotations

from guahao.core import channels
from guahao.core.booking.service import report_check_in as check_in
from guahao.core.errors import Conflict, DeliveryRefused, DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed
from guahao.core.hookspecs import hookimpl
from guahao.core.notifications.sharing import shared_redis
from guahao.core.notifications.templates import Template, template_for
from guahao.core.outbox import emit
from guahao.core.plugins import wechat
from guahao.core.plugins.http import HttpClient, TransportError, expect_success, json_answer
from guahao.core.plugins.interfaces import (
    HIS_OPERATIONS,
    VISIT_OUTCOMES,
    FeeItem,
    HisAck,
    HisAdapter,
    HisHealth,
    HisRejected,
    NotificationSender,
    OutgoingMessage,
    PaymentError,
    PaymentIntent,
    PaymentProvider,
    PaymentResult,
    RefundResult,
    ScheduleItem,
    SendResult,
    StatementLine,
    VisitStatus,
)
from guahao.core.plugins.meta import API_VERSION, CATEGORIES, PluginMeta
from guahao.core.plugins.sender_settings import SenderSettings
from guahao.core.plugins.services import city_session, protect_tenant_table
from guahao.core.plugins.settings import FieldError, PluginSettings, SettingsInvalid, endpoint_setting, setting, timeout_setting
from guahao.core.usage import report_usage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, current_city, use_city
from guahao.tenants.models import TenantModel

__all__ = [
    "API_VERSION",
    "CATEGORIES",
    "CityContext",
    "Conflict",
    "DeliveryRefused",
    "DomainError",
    "FeeItem",
    "FieldError",
    "Forbidden",
    "HisAck",
    "HIS_OPERATIONS",
    "HisAdapter",
    "HisHealth",
    "HisRejected",
    "HttpClient",
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
    "SenderSettings",
    "SettingsInvalid",
    "StatementLine",
    "Template",
    "TenantModel",
    "TransportError",
    "Unauthorized",
    "VISIT_OUTCOMES",
    "ValidationFailed",
    "VisitStatus",
    "channels",
    "check_in",
    "city_session",
    "current_city",
    "emit",
    "endpoint_setting",
    "expect_success",
    "hookimpl",
    "json_answer",
    "protect_tenant_table",
    "report_usage",
    "setting",
    "shared_redis",
    "timeout_setting",
    "template_for",
    "use_city",
    "utcnow",
    "wechat",
]
