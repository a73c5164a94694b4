"""Phone booking (电话预约, 12320, R5.3): callers book, list and cancel with the keypad.

A telephony platform (Twilio or any platform speaking TwiML) posts each step of a call to the
city-root endpoints of :mod:`.voice` (``/c/{city}/ivr/voice``…), signed with the city's
``auth_token``. The menu is a dialect-free state machine (:mod:`.dialog`) over the platform's
channel services (:mod:`.services`), rendered as TwiML (:mod:`.twiml`); each call's state is a
row of ``ivr_calls`` (:mod:`.models`, :mod:`.calls`), so any web process answers any step. A
payment link asked for in a call goes out by SMS (the ``ivr.sms`` outbox job); a completed
call's minutes are reported for metering. ``0`` hands the call to the ``agent_number`` with an
eight-digit call reference the agent desk looks up (``/c/{city}/agent?call=REF``). With the
``simulator`` setting on, ``/c/{city}/ivr/simulator`` is a phone in the browser that drives the
same endpoints (:mod:`.simulator`). The ``voice`` channel of notifications (broadcasts) places
outbound calls through the platform's REST API that read the message (:mod:`.outbound`).

The guide is ``docs/channel-phone.md``.
"""

from __future__ import annotations

from starlette.routing import Route

from guahao.plugin_api import channels, hookimpl

from . import simulator, voice
from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import IvrCall
from .outbound import VoiceCallSender
from .services import SMS_TOPIC

NAME = "ivr"
__all__ = ["NAME", "IvrCall"]


def routes() -> list:
    return [
        Route("/ivr/voice", voice.start, methods=["POST"]),
        Route("/ivr/voice/step", voice.step, methods=["POST"]),
        Route("/ivr/voice/status", voice.status, methods=["POST"]),
        Route("/ivr/simulator", simulator.page, methods=["GET", "POST"]),
    ]


async def send_text(ctx, payload: dict) -> None:
    await channels.deliver_text(ctx.rt, ctx.city, ctx.plugins, payload["notification_id"], attempt=ctx.attempt)


@hookimpl
def guahao_city_pages():
    return routes()


@hookimpl
def guahao_outbox_handlers():
    return {SMS_TOPIC: send_text}


@hookimpl
def guahao_notification_senders():
    return [VoiceCallSender()]
