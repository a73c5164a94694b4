"""SMS booking (短信预约, R5.2): members book, list and cancel by text message.

The city's SMS gateway pushes the messages members send to its number to
``POST /c/{city}/plugins/sms_inbound/{provider}`` — ``aliyun`` (Alibaba Cloud SmsUp push),
``tencent`` (Tencent Cloud reply callback) or ``generic`` (an HMAC-signed JSON form for any
other gateway), see :mod:`.transports`. Each message is kept once (:mod:`.models`), read by the
grammar (:mod:`.grammar`, ``预约*姓名*日期*医院*科室[*医生][*上午|下午]``, ``查询``,
``取消 <预约号>``, ``帮助``) and acted on by an outbox job (:mod:`.process`, :mod:`.dialog`)
through the platform's channel services, with ``sms`` as the booking's channel. The reply
(:mod:`.texts`) goes out through the city's SMS sender and is kept in its message log.

With the ``simulator`` setting on, ``/c/{city}/sms/simulator`` is a mobile phone in the browser
that sends signed uplinks to that webhook and shows the replies from the message log
(:mod:`.simulator`).

Settings: ``max_age_minutes``, ``tolerance_seconds``, ``aliases`` (other names of hospitals →
their codes), ``simulator``, ``simulator_phones``. Secrets: ``aliyun_token``, ``tencent_token``, ``generic_secret``. The guide is
``docs/channel-sms.md``.
"""

from __future__ import annotations

from starlette.routing import Route

from guahao.plugin_api import hookimpl

from . import process as jobs
from . import simulator
from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import SmsInboundMessage
from .webhook import NAME, PROCESS_TOPIC, routes

__all__ = ["NAME", "SmsInboundMessage"]


@hookimpl
def guahao_routes():
    return routes()


@hookimpl
def guahao_city_pages():
    return [
        Route("/sms/simulator", simulator.page, methods=["GET", "POST"]),
        Route("/sms/simulator/thread", simulator.thread, methods=["GET"]),
        Route("/sms/simulator/assets/{name}", simulator.asset, methods=["GET"]),
    ]


@hookimpl
def guahao_outbox_handlers():
    return {PROCESS_TOPIC: jobs.process, jobs.REPLY_TOPIC: jobs.reply}
