"""What the payment page needs beyond the booking: hints about where the member pays, for the
provider to pick its way (QR code, mobile page, inside WeChat), and a scannable QR code.

Hints travel as query parameters of the ``return_url`` given to the provider (``pay_client``
= ``wechat`` | ``mobile`` | ``kiosk``, with ``pay_ip`` for a mobile browser and ``pay_openid``
inside WeChat when the member has one); a desktop browser adds none. Providers that do not
use them ignore them, and the page they name ignores them too.
"""

from __future__ import annotations

import io
import re
from urllib.parse import urlencode

import segno
from markupsafe import Markup

from guahao.core import ratelimit

_WECHAT = re.compile(r"MicroMessenger", re.I)
_MOBILE = re.compile(r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS|Windows Phone", re.I)


def client_hints(p, *, kiosk: bool = False) -> dict[str, str]:
    """Where the member pays from, as the ``pay_*`` hints (empty for a desktop browser)."""
    agent = p.request.headers.get("user-agent", "")
    if kiosk:
        return {"pay_client": "kiosk"}
    if _WECHAT.search(agent):
        openid = getattr(p.member, "wechat_openid", None) or ""
        return {"pay_client": "wechat", **({"pay_openid": openid} if openid else {})}
    if _MOBILE.search(agent):
        return {"pay_client": "mobile", "pay_ip": ratelimit.client_ip(p.request)}
    return {}


def with_hints(url: str, hints: dict[str, str]) -> str:
    return url + (("&" if "?" in url else "?") + urlencode(hints) if hints else "")


def qr_svg(text: str) -> Markup:
    """``text`` as an inline SVG QR code (error correction M, big enough to scan on a kiosk)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, nl=False,
                                     svgclass="qr", title="QR")
    return Markup(out.getvalue().decode("utf-8"))
