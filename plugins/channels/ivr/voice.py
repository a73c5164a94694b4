"""The voice endpoints a telephony platform drives (TwiML dialect), at the city root:

- ``POST /c/{city}/ivr/voice`` — a call arrives (``CallSid``, ``From``…): the greeting;
- ``POST /c/{city}/ivr/voice/step?n=<turn>`` — the keys pressed (``Digits``; none after a
  timeout): the next prompt;
- ``POST /c/{city}/ivr/voice/status`` — the platform's status callback: a completed call's
  minutes are reported for metering (``phone.minutes``, once per ``CallSid``).

Every request must carry a valid ``X-Twilio-Signature`` made with the city's ``auth_token``
over the public URL the platform called (``public_url`` behind a proxy) and the form; anything
else is refused with 403 before anything is read or written. The menu itself is
:mod:`.dialog`; its state is kept per call (:mod:`.calls`), and a request the platform repeats
gets the stored reply without being acted on again.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from twilio.request_validator import RequestValidator

from guahao.plugin_api import use_city

from . import calls, dialog
from .dialog import Turn
from .services import PlatformServices
from .twiml import render

log = logging.getLogger("guahao.ivr")

NAME = "ivr"
XML = "application/xml"


class Call:
    """One checked request: the runtime, city, the plugin's settings, the form and the
    public base address (``https://host``) of the site."""

    def __init__(self, request: Request, settings: dict, form: dict, base: str):
        self.rt, self.city = request.app.state.rt, request.state.city
        self.settings, self.form, self.base = settings, form, base

    def action(self, turn: int) -> str:
        return f"{self.base}/c/{self.city.slug}/ivr/voice/step?n={turn}"

    def services(self) -> PlatformServices:
        return PlatformServices(self.rt, self.city, self.settings, self.base)

    def xml(self, turn: Turn, next_turn: int, call_ref: str) -> Response:
        body = render(turn, action=self.action(next_turn), timeout=int(self.settings.get("gather_timeout", 6)),
                      agent=str(self.settings.get("agent_number") or ""), call_ref=call_ref)
        return Response(body, media_type=XML)


def _refused(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def public_url(request: Request, public: str) -> tuple[str, str]:
    """The URL the platform called and the site's base, as the public sees them."""
    if public:
        base = public.rstrip("/")
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{base}{request.url.path}{query}", base
    return str(request.url), f"{request.url.scheme}://{request.url.netloc}"


async def checked(request: Request) -> Call | Response:
    """The request as a :class:`Call` when its signature is the platform's, else a 403."""
    rt, city = request.app.state.rt, request.state.city
    plugins = await rt.plugins.for_city(city)
    settings, secrets = dict(plugins.settings(NAME)), plugins.secrets(NAME)
    token = str(secrets.get("auth_token") or "")
    form = {k: str(v) for k, v in (await request.form()).items()}
    url, base = public_url(request, str(settings.get("public_url") or ""))
    signature = request.headers.get("x-twilio-signature", "")
    if not token or not signature or not RequestValidator(token).validate(url, form, signature):
        log.warning("voice request for city %s refused: bad or missing signature", city.slug)
        return _refused(403, "invalid_signature", "请求签名无效 / the request signature is not valid")
    return Call(request, settings, form, base)


async def _replay(call: Call, row) -> Response:
    """The reply already given at the call's current turn (a repeated request)."""
    if not row.reply:
        return call.xml(Turn("通话已结束，再见。", keys=0, end="hangup"), row.turn, row.ref)
    return call.xml(Turn(**row.reply), row.turn, row.ref)


async def start(request: Request) -> Response:
    call = await checked(request)
    if isinstance(call, Response):
        return call
    sid = call.form.get("CallSid", "")
    if not sid or len(sid) > 64:
        return _refused(400, "missing_call_sid", "缺少通话标识 CallSid / CallSid is missing")
    row, created = await calls.open_call(call.rt, call.city, sid, call.form.get("From", ""))
    if not created and row.turn > 0:
        return await _replay(call, row)
    state = {"call": sid, "ref": row.ref, "days_ahead": int(call.settings.get("days_ahead", 7)), "turn": 0}
    with use_city(call.city):
        turn = await dialog.start(state, call.services(), caller=call.form.get("From", ""))
    if not await calls.advance(call.rt, call.city, row, turn=0, state=state, reply=turn.as_dict()):
        return await _replay(call, await calls.get(call.rt, call.city, sid))
    return call.xml(turn, 1, row.ref)


async def step(request: Request) -> Response:
    call = await checked(request)
    if isinstance(call, Response):
        return call
    sid = call.form.get("CallSid", "")
    try:
        n = int(request.query_params.get("n", ""))
    except ValueError:
        return _refused(400, "invalid_turn", "步骤编号无效 / the step number is not valid")
    row = await calls.get(call.rt, call.city, sid) if sid else None
    if row is None:
        return call.xml(Turn("通话已结束，再见。", keys=0, end="hangup"), 0, "")
    if n != row.turn or row.status != "active":
        return await _replay(call, row)
    state = dict(row.state)
    state["turn"] = n
    services = call.services()
    with use_city(call.city):
        turn = await dialog.step(state, call.form.get("Digits"), services,
                                 agent=bool(call.settings.get("agent_number")))
    effects = state.pop("effects", [])

    async def carry_out(s) -> None:
        for effect in effects:
            if effect["kind"] == "pay_link":
                await services.send_pay_link(s, effect["member_id"], effect["phone"], effect["booking"])

    if not await calls.advance(call.rt, call.city, row, turn=n, state=state, reply=turn.as_dict(), effects=carry_out):
        return await _replay(call, await calls.get(call.rt, call.city, sid))
    return call.xml(turn, n + 1, row.ref)


async def status(request: Request) -> Response:
    call = await checked(request)
    if isinstance(call, Response):
        return call
    sid = call.form.get("CallSid", "")
    if sid and len(sid) <= 64 and call.form.get("CallStatus") == "completed":
        try:
            seconds = int(call.form.get("CallDuration") or 0)
        except ValueError:
            return _refused(400, "invalid_duration", "通话时长无效 / CallDuration is not a number")
        await calls.finish(call.rt, call.city, sid, caller=call.form.get("From", ""), seconds=seconds)
    return Response(status_code=204)
