"""A mobile phone in the browser for demos and training: ``/c/{city}/sms/simulator`` (only while
the city's ``simulator`` setting is on).

The visitor picks a number (the ``simulator_phones`` setting, or any typed one), writes a text
and sends it. The server then plays the city's SMS gateway: it signs the message in the
``generic`` uplink format with the city's ``generic_secret`` and posts it over HTTP to the
plugin's own webhook (``/c/{city}/plugins/sms_inbound/generic``), so the message is stored,
processed once and answered exactly as a real one. The conversation shows the number's
messages as this plugin received them and the texts the city's message log shows as sent to
that number (the reply through the city's SMS sender, and any confirmation or reminder) —
what the phone would have received. The page is plain HTML forms; a small script of its own
(no inline script) refreshes the conversation and fills the textarea from the examples.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from guahao.plugin_api import channels, city_session

from .models import SmsInboundMessage
from .transports import MAX_TEXT, generic_signature
from .webhook import NAME

HERE = Path(__file__).parent
ASSETS = {"simulator.js": "text/javascript", "simulator.css": "text/css"}
SHOWN = 30  # messages each way in the conversation
_templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class Line:
    """One bubble of the conversation: ``sent`` by the visitor's phone or received by it."""

    at: datetime
    text: str
    sent: bool
    pending: bool = False


def _not_found() -> JSONResponse:
    return JSONResponse({"error": {"code": "not_found", "message": "no such page for this city"}}, status_code=404)


async def _config(request: Request) -> tuple[dict, str] | None:
    """The plugin's settings and generic secret, or ``None`` while the simulator is off."""
    plugins = await request.app.state.rt.plugins.for_city(request.state.city)
    settings = dict(plugins.settings(NAME))
    if not settings.get("simulator"):
        return None
    return settings, str(plugins.secrets(NAME).get("generic_secret") or "")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


async def conversation(rt, city, phone: str) -> list[Line]:
    """The number's messages and the texts sent to it, oldest first (the latest of each)."""
    async with city_session(rt, city) as s:
        sent = (await s.scalars(
            select(SmsInboundMessage).where(SmsInboundMessage.phone == phone)
            .order_by(SmsInboundMessage.id.desc()).limit(SHOWN)
        )).all()
    lines = [Line(_aware(m.received_at), m.text, True, m.status == "received") for m in sent]
    lines += [Line(_aware(t.sent_at), t.body, False) for t in await channels.texts_sent_to(rt, phone, limit=SHOWN)]
    return sorted(lines, key=lambda line: (line.at, not line.sent))


async def _examples(rt, phone: str) -> list[tuple[str, str]]:
    """``(label, text)`` of messages to tap: a booking in the number's own name at the city's
    first hospital, the query, a cancel of the member's next booking, help."""
    member = await channels.member_by_phone(rt, phone) if phone else None
    name = member.name if member else "张伟"
    book = f"预约*{name}*明天*市一院*消化内科"
    hospitals = await channels.list_hospitals(rt)
    if hospitals:
        first = hospitals[0]
        departments = await channels.list_departments(rt, first.id)
        wanted = next((d for d in departments if d.name == "消化内科"), None) or \
            next((d for d in departments if d.name.endswith("内科") and d.name != "内科"), None) or \
            (departments[0] if departments else None)
        if wanted is not None:
            book = f"预约*{name}*明天*{first.detail or first.name}*{wanted.name}"
    upcoming = await channels.upcoming(rt, member_id=member.id) if member else []
    cancel = f"取消 {upcoming[0].ref}" if upcoming else "取消 预约号"
    return [("预约", book), ("查询", "查询"), ("取消", cancel), ("帮助", "帮助")]


async def _render(request: Request, settings: dict, *, phone: str, draft: str = "", note: str = "") -> HTMLResponse:
    rt, city = request.app.state.rt, request.state.city
    picks = []
    for number in settings.get("simulator_phones") or []:
        member = await channels.member_by_phone(rt, number)
        picks.append({"phone": number, "name": member.name if member else "未注册"})
    lines = await conversation(rt, city, phone) if phone else []
    examples = await _examples(rt, phone)
    html = _templates.get_template("sms_simulator.html").render(
        city=city, phone=phone, picks=picks, lines=lines, tz=city.tz, examples=examples, draft=draft, note=note,
        thread_url="simulator/thread?" + urlencode({"phone": phone}) if phone else "",
        link=lambda **q: "simulator?" + urlencode({k: v for k, v in q.items() if v}),
    )
    return HTMLResponse(html)


async def page(request: Request) -> Response:
    """The phone: ``GET ?phone=…&draft=…`` shows it; ``POST`` (``phone``, ``text``) sends."""
    found = await _config(request)
    if found is None:
        return _not_found()
    settings, secret = found
    if request.method == "GET":
        typed = str(request.query_params.get("phone", ""))[:20]
        phone = channels.mainland_mobile(typed) or ""
        note = "请输入11位手机号。" if typed and not phone else ""
        return await _render(request, settings, phone=phone, draft=str(request.query_params.get("draft", ""))[:MAX_TEXT],
                             note=note)
    form = await request.form()
    phone = channels.mainland_mobile(str(form.get("phone", ""))[:20]) or ""
    text = str(form.get("text", "")).strip()[:MAX_TEXT]
    if not phone:
        return await _render(request, settings, phone="", draft=text, note="请输入11位手机号。")
    if not text:
        return await _render(request, settings, phone=phone, note="请先写短信内容。")
    if not secret:
        return await _render(request, settings, phone=phone, draft=text,
                             note="本市未设置 sms_inbound 的 generic 签名密钥（generic_secret），无法模拟短信网关。")
    status = await _uplink(request, secret, phone, text)
    if status != 200:
        return await _render(request, settings, phone=phone, draft=text, note=f"上行短信接口拒绝了请求（HTTP {status}）。")
    return RedirectResponse("simulator?" + urlencode({"phone": phone}), status_code=303)


async def _uplink(request: Request, secret: str, phone: str, text: str) -> int:
    """Post the message to the city's generic webhook as a gateway does (signed); the status."""
    city = request.state.city
    body = json.dumps({"id": "sim-" + secrets.token_hex(10), "from": phone, "text": text, "sent_at": int(time.time())},
                      ensure_ascii=False).encode("utf-8")
    stamp = str(int(time.time()))
    headers = {"content-type": "application/json; charset=utf-8", "x-guahao-timestamp": stamp,
               "x-guahao-signature": generic_signature(secret, stamp, body)}
    base = f"{request.url.scheme}://{request.url.netloc}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=request.app), base_url=base) as client:
        answer = await client.post(f"/c/{city.slug}/plugins/{NAME}/generic", content=body, headers=headers)
    return answer.status_code


async def thread(request: Request) -> Response:
    """The conversation alone, for the page's script to refresh."""
    found = await _config(request)
    if found is None:
        return _not_found()
    phone = channels.mainland_mobile(str(request.query_params.get("phone", ""))[:20]) or ""
    city = request.state.city
    lines = await conversation(request.app.state.rt, city, phone) if phone else []
    html = _templates.get_template("sms_thread.html").render(lines=lines, tz=city.tz)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS or await _config(request) is None:
        return _not_found()
    return FileResponse(HERE / "static" / name, media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=300"})
