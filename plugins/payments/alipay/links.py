"""Addresses the Alipay flows need on the platform's own site, and where the member pays from.

- ``notify_url``: ``/c/{city}/plugins/alipay/notify`` (Alipay's asynchronous notifies).
- ``return_url``: ``/c/{city}/plugins/alipay/return/{target}``: Alipay sends the member's
  browser here after paying; ``target`` is the platform page to go on to (its path and query,
  base64url), which must be one of the city's own pages.
- the site's hints on the address it gives (``pay_client`` = ``mobile`` | ``wechat`` |
  ``kiosk``; none from a computer) pick wap pay, page pay or a QR code.
"""

from __future__ import annotations

import base64
from typing import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PREFIX = "/plugins/alipay"


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


def pay_client(return_url: str | None) -> str:
    """Where the member pays from, as the site hinted on ``return_url`` (``""``: a computer)."""
    if not return_url:
        return ""
    return dict(parse_qsl(urlsplit(return_url).query)).get("pay_client", "")


def without_hints(url: str) -> str:
    """``url`` without the site's ``pay_*`` hints: they never leave the platform."""
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("pay_")])
    return urlunsplit(parts._replace(query=query))


def return_target(return_url: str) -> str:
    """``return_url``'s path and query (hints dropped), base64url without padding (goes in a
    path segment)."""
    parts = urlsplit(without_hints(return_url))
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
