"""Order numbers and the payment hints the patient site passes along.

``out_trade_no`` is the booking's reference and the trade type's letter (``7K4MQ-9XT2B_N``):
stable, so a repeated ``prepare`` asks WeChat Pay for the same order (which answers with the
same ``code_url``/``prepay_id``), and unique per trade type, because WeChat Pay refuses one
order number for two trade types. Booking references never contain ``_``.

Hints: the patient site tells the provider what the member pays from through query
parameters of ``return_url`` (``pay_client`` = ``wechat`` | ``mobile`` | ``desktop`` |
``kiosk``, ``pay_ip`` the member's address for H5, ``pay_openid`` the member's WeChat openid
inside WeChat); they are read and removed before the address goes anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

NATIVE, H5, JSAPI = "NATIVE", "MWEB", "JSAPI"
LETTERS = {NATIVE: "N", H5: "H", JSAPI: "J"}
TYPES = {v: k for k, v in LETTERS.items()}
PATHS = {NATIVE: "/v3/pay/transactions/native", H5: "/v3/pay/transactions/h5", JSAPI: "/v3/pay/transactions/jsapi"}
HINTS = ("pay_client", "pay_ip", "pay_openid")


def out_trade_no(booking_id: str, trade_type: str) -> str:
    return f"{booking_id}_{LETTERS[trade_type]}"


def booking_of(trade_no: str) -> str:
    """The booking reference of one of our order numbers, else ``""``."""
    ref, sep, letter = trade_no.rpartition("_")
    return ref if sep and letter in TYPES and 0 < len(ref) <= 24 else ""


def refund_no(trade_no: str, key: str) -> str:
    """``out_refund_no``: the refund's idempotency key at WeChat Pay (≤ 64 characters)."""
    return f"{trade_no}-R{key}"[:64]


@dataclass(frozen=True)
class Hints:
    client: str = "desktop"
    ip: str = ""
    openid: str = ""
    return_url: str = ""  # without the hints

    def trade_type(self) -> str:
        if self.client == "kiosk":
            return NATIVE
        if self.client == "wechat" and self.openid:
            return JSAPI
        if self.client == "mobile" and self.ip:
            return H5
        return NATIVE


def read_hints(return_url: str | None) -> Hints:
    if not return_url:
        return Hints()
    parts = urlsplit(return_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    found = {k: v for k, v in query if k in HINTS}
    rest = urlencode([(k, v) for k, v in query if k not in HINTS])
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    return Hints(client=found.get("pay_client", "desktop"), ip=found.get("pay_ip", ""),
                 openid=found.get("pay_openid", ""), return_url=clean)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
