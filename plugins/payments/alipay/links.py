"""Addresses the Alipay flows need on the platform's own site.

- ``notify_url``: ``/c/{city}/plugins/alipay/notify`` (Alipay's asynchronous notifies).
- ``return_url``: ``/c/{city}/plugins/alipay/return/{target}``: Alipay sends the member's
  browser here after paying; ``target`` is the platform page to go on to (its path, base64url).
- the pay link ``/c/{city}/plugins/alipay/pay?…&t=…``: what ``prepare`` hands the site. The
  member's browser opens it and is sent on to Alipay's page pay (desktop) or wap pay (phone
  browsers), chosen by its User-Agent. Its parameters (trade, amount, subject, expiry) are
  sealed with an HMAC keyed from the app private key, so nobody can make it ask for another
  amount.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Mapping
from urllib.parse import urlencode, urlsplit

PREFIX = "/plugins/alipay"
LINK_FIELDS = ("o", "a", "s", "e", "r", "n", "q")  # trade, fen, subject, time_expire, return_url, notify_url, quit_url
_MOBILE = re.compile(r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS|Windows Phone|AlipayClient|MicroMessenger", re.I)


def site_of(settings: Mapping, return_url: str | None) -> str:
    """The site's origin: the ``notify_base_url`` setting, else the origin the member pays on."""
    base = str(settings.get("notify_base_url") or "").rstrip("/")
    if base:
        return base
    if return_url:
        parts = urlsplit(return_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return ""


def plugin_root(site: str, city_slug: str) -> str:
    return f"{site}/c/{city_slug}{PREFIX}"


def return_target(return_url: str) -> str:
    """``return_url``'s path and query, base64url without padding (goes in a path segment)."""
    parts = urlsplit(return_url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def target_path(token: str, city_slug: str) -> str | None:
    """The platform page a return token names, only when it is one of this city's pages."""
    try:
        path = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not path.startswith(f"/c/{city_slug}/") or "//" in path or "\\" in path:
        return None
    return path


def _key(private_pem: str) -> bytes:
    return hashlib.sha256(b"guahao-alipay-pay-link\0" + private_pem.encode()).digest()


def seal(fields: Mapping[str, str], private_pem: str) -> str:
    message = "\n".join(f"{k}={fields.get(k, '')}" for k in LINK_FIELDS).encode()
    return hmac.new(_key(private_pem), message, hashlib.sha256).hexdigest()


def pay_link(root: str, fields: Mapping[str, str], private_pem: str) -> str:
    values = {k: str(fields.get(k, "")) for k in LINK_FIELDS}
    return f"{root}/pay?" + urlencode({**values, "t": seal(values, private_pem)})


def opened(query: Mapping[str, str], private_pem: str) -> dict[str, str] | None:
    """The pay link's fields when its seal is right, else ``None``."""
    values = {k: str(query.get(k, "")) for k in LINK_FIELDS}
    if not hmac.compare_digest(seal(values, private_pem), str(query.get("t", ""))):
        return None
    return values


def is_mobile(user_agent: str) -> bool:
    return bool(_MOBILE.search(user_agent or ""))
