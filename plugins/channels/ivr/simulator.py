"""A phone in the browser for demos and training: ``/c/{city}/ivr/simulator`` (only while the
city's ``simulator`` setting is on).

The page is a keypad and a screen of what the menu says. Each key is a plain form post (no
script); the server then plays the telephony platform: it posts the call's step to the city's
own voice endpoints (:mod:`.voice`) exactly as the platform would — signed with the city's
``auth_token`` — reads the TwiML answer and shows it. So the simulated call walks the same
menu, state table, signatures and booking engine as a real one. Nothing of the call is kept in
the page but its id, its turn, the keys typed so far and the last lines heard.
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from html import escape

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from twilio.request_validator import RequestValidator

from .voice import NAME, public_url

KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]
KEY_IDS = {"*": "star", "#": "hash"}
HEARD_KEPT = 6


async def _settings(request: Request) -> tuple[dict, str] | None:
    plugins = await request.app.state.rt.plugins.for_city(request.state.city)
    settings = dict(plugins.settings(NAME))
    if not settings.get("simulator"):
        return None
    return settings, str(plugins.secrets(NAME).get("auth_token") or "")


def _not_found() -> JSONResponse:
    return JSONResponse({"error": {"code": "not_found", "message": "no such page for this city"}}, status_code=404)


async def _post(request: Request, base: str, token: str, path: str, params: dict) -> tuple[int, str]:
    """Post ``params`` to one of the city's voice endpoints as the platform does (signed)."""
    url = f"{base}{path}"
    signature = RequestValidator(token).compute_signature(url, params)
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        answer = await client.post(url, data=params, headers={"X-Twilio-Signature": signature})
    return answer.status_code, answer.text


def _read(twiml: str) -> dict:
    """What the caller meets in a TwiML answer: the lines said, the gather, the hand-off, the end."""
    root = ET.fromstring(twiml)
    seen: dict = {"says": [], "gather": None, "dial": "", "ended": False}
    for verb in root:
        if verb.tag == "Say":
            seen["says"].append(verb.text or "")
        elif verb.tag == "Gather":
            seen["says"] += [s.text or "" for s in verb.findall("Say")]
            action = verb.get("action") or ""
            seen["gather"] = {"n": action.rsplit("n=", 1)[-1], "keys": int(verb.get("numDigits") or 0),
                              "finish": verb.get("finishOnKey") == "#"}
        elif verb.tag == "Dial":
            target = verb.find("Number")
            target = target if target is not None else verb.find("Sip")
            seen["dial"] = (target.text if target is not None else "") or ""
        elif verb.tag == "Hangup":
            seen["ended"] = True
    return seen


def _page(city, *, caller: str, heard: list[str], call: dict | None, note: str = "") -> HTMLResponse:
    """The phone: the screen (latest line last), the keys typed, the keypad."""
    lines = "".join(f'<p class="said">{escape(line)}</p>' for line in heard[-HEARD_KEPT:])
    hidden = ""
    if call:
        fields = {"sid": call["sid"], "n": call["n"], "keys": call["keys"], "finish": "1" if call["finish"] else "",
                  "buf": call["buf"], "from": caller, "started": call["started"]}
        hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(str(v))}">' for k, v in fields.items())
        hidden += "".join(f'<input type="hidden" name="heard" value="{escape(line)}">' for line in heard[-HEARD_KEPT:])
        pad = "".join(f'<button type="submit" name="key" value="{escape(k)}" id="key-{KEY_IDS.get(k, k)}">{k}</button>'
                      for k in KEYS)
        controls = (f'<div class="typed" id="typed">{escape(call["buf"]) or "&nbsp;"}</div><div class="pad">{pad}</div>'
                    '<div class="row"><button type="submit" name="op" value="wait" id="wait">不按键（等待超时）</button>'
                    '<button type="submit" name="op" value="hangup" id="hangup" class="red">挂断</button></div>')
    else:
        controls = ('<label>来电号码 <input name="from" id="from" '
                    f'value="{escape(caller)}" inputmode="tel" maxlength="20"></label>'
                    '<button type="submit" name="op" value="dial" id="dial" class="green">拨打 12320</button>')
    body = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>模拟电话 · {escape(city.name)}</title>
<style>
body{{margin:0;font-family:system-ui,sans-serif;background:#eef1f4}}
main{{max-width:380px;margin:0 auto;padding:12px}}
h1{{font-size:1.1rem;margin:.4rem 0}}
.screen{{background:#102a43;color:#f0f4f8;border-radius:12px;padding:10px;min-height:160px}}
.said{{margin:.3rem 0;line-height:1.45}} .said:last-child{{color:#ffe08a}}
.note{{color:#52606d;font-size:.85rem}}
.typed{{font-size:1.4rem;letter-spacing:.2rem;text-align:center;min-height:1.8rem;margin:.5rem 0}}
.pad{{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}}
.pad button{{font-size:1.5rem;padding:14px 0;border-radius:50px;border:1px solid #bcccdc;background:#fff}}
.row{{display:flex;gap:8px;margin-top:10px}} .row button{{flex:1;padding:10px}}
button.green{{background:#2f8132;color:#fff;border:0;padding:12px;width:100%;margin-top:8px;border-radius:8px}}
button.red{{background:#c62828;color:#fff;border:0;border-radius:8px}}
label{{display:block;margin-top:10px}} input{{font-size:1.1rem;width:100%;box-sizing:border-box;padding:6px}}
</style></head><body><main>
<h1>模拟电话 · {escape(city.name)} 12320</h1>
<div class="screen" id="screen" aria-live="polite">{lines or '<p class="said">（未通话）</p>'}</div>
{f'<p class="note" id="note">{escape(note)}</p>' if note else ''}
<form method="post" action="simulator" id="phone">{hidden}{controls}</form>
<p class="note">演示用：按键经服务器以话务平台的方式签名后发送到本市的语音接口（/c/{escape(city.slug)}/ivr/voice）。
密码为会员身份证号后 6 位（末位 X 按 0）。</p>
</main></body></html>"""
    return HTMLResponse(body)


async def page(request: Request) -> Response:
    found = await _settings(request)
    if found is None:
        return _not_found()
    settings, token = found
    city = request.state.city
    if request.method == "GET":
        return _page(city, caller="13800000001", heard=[], call=None)
    form = await request.form()
    caller = str(form.get("from", ""))[:20]
    heard = [str(x) for x in form.getlist("heard")]
    if not token:
        return _page(city, caller=caller, heard=heard, call=None, note="本市未设置 ivr 的 auth_token，无法模拟来电。")
    _, base = public_url(request, str(settings.get("public_url") or ""))
    voice = f"/c/{city.slug}/ivr/voice"
    op, key = str(form.get("op", "")), str(form.get("key", ""))
    sid = str(form.get("sid", ""))[:64]
    params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": "12320",
              "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}
    started = str(form.get("started", "")) or str(int(time.time()))
    if op == "dial" or not sid:
        params["CallSid"] = "CASIM" + secrets.token_hex(14)
        status, twiml = await _post(request, base, token, voice, params)
        return _show(city, caller, [], status, twiml, params["CallSid"], started=str(int(time.time())))
    if op == "hangup":
        seconds = max(1, int(time.time()) - int(started)) if started.isdigit() else 1
        await _post(request, base, token, f"{voice}/status",
                    {**params, "CallStatus": "completed", "CallDuration": str(seconds)})
        return _page(city, caller=caller, heard=[*heard, "（已挂断）"], call=None)
    n, wanted, finish = str(form.get("n", ""))[:9], str(form.get("keys", "0"))[:2], bool(form.get("finish"))
    keys = int(wanted) if wanted.isdigit() else 0
    buf = str(form.get("buf", ""))[:32]
    digits: str | None = None
    if op == "wait":
        digits = None
    elif key in KEYS:
        if not finish:
            digits = key
        elif key == "#":
            digits = buf
        elif key == "*" and not buf:
            digits = "*"
        else:
            buf += key
            if keys and len(buf) >= keys:
                digits = buf
            else:
                call = {"sid": sid, "n": n, "keys": keys, "finish": finish, "buf": buf, "started": started}
                return _page(city, caller=caller, heard=heard, call=call)
    if digits is not None:
        params["Digits"] = digits
    status, twiml = await _post(request, base, token, f"{voice}/step?n={n}", params)
    return _show(city, caller, heard, status, twiml, sid, started=started)


def _show(city, caller: str, heard: list[str], status: int, twiml: str, sid: str, *, started: str) -> HTMLResponse:
    if status != 200:
        return _page(city, caller=caller, heard=heard, call=None, note=f"语音接口拒绝了请求（HTTP {status}）。")
    seen = _read(twiml)
    heard = [*heard, *seen["says"]]
    if seen["dial"]:
        heard.append(f"（正在转接人工坐席 {seen['dial']}）")
    if seen["gather"] is None:
        return _page(city, caller=caller, heard=[*heard, "（通话结束）"], call=None)
    gather = seen["gather"]
    call = {"sid": sid, "n": gather["n"], "keys": gather["keys"], "finish": gather["finish"], "buf": "", "started": started}
    return _page(city, caller=caller, heard=heard, call=call)
