"""The carrier plugin's declaration and settings, the document's signature example, order
numbers, and the signature checks both sides make."""

from __future__ import annotations

import pytest

from guahao.core.plugins.settings import SettingsInvalid, validate
from guahao.plugins.payments.carrier import orders, signing
from guahao.plugins.payments.carrier.meta import META
from guahao.tenants.clock import utcnow
from tests.fakes.carrier import hmac_hex

SECRET = "test-secret-0123456789abcdef0123456789"
# The worked example of docs/carrier-gateway.md §2.
BODY = ('{"order_no":"GH12C7K4MQ9XT2B","phone":"13800138000","amount_fen":5000,"description":"挂号费",'
        '"notify_url":"https://guahao.example.cn/c/bj/plugins/carrier/notify","expires_at":"2026-12-07T10:15:00+00:00"}'
        ).encode()
BODY_SHA256 = "417797d5ee45e912833be91154563c0698e6c07328ca082116e92ebbed79888c"
SIGNATURE = "c6002542ae423b1530699ee88963e26cdb5628d97511aa62c486023bd2b00189"


def test_declaration_and_settings():
    META.check("carrier")
    settings, _ = validate("carrier", META.settings,
                           {"gateway_url": "https://pay.cmcc.example.cn/gh", "key_id": "gh-bj-01", "carrier": "cmcc"},
                           {"shared_secret": SECRET})
    assert settings["carrier"] == "cmcc" and settings["key_id"] == "gh-bj-01"
    with pytest.raises(SettingsInvalid) as err:
        validate("carrier", META.settings, {"gateway_url": "ftp://x", "key_id": "a b", "carrier": "vodafone"},
                 {"shared_secret": "short"})
    assert set(err.value.errors) == {"gateway_url", "key_id", "carrier", "shared_secret"}


def test_the_documents_signature_example():
    text = signing.string_to_sign("POST", "/gh/v1/charges", "1796638500", "n0nce-0123456789abcdef", BODY)
    assert text.decode().split("\n") == ["POST", "/gh/v1/charges", "1796638500", "n0nce-0123456789abcdef", BODY_SHA256]
    assert signing.sign(SECRET, "POST", "/gh/v1/charges", "1796638500", "n0nce-0123456789abcdef", BODY) == SIGNATURE
    assert hmac_hex(SECRET, "POST", "/gh/v1/charges", "1796638500", "n0nce-0123456789abcdef", BODY) == SIGNATURE


def test_signed_headers_hold_only_as_signed():
    now = int(utcnow().timestamp())
    head = signing.headers("k1", SECRET, "POST", "/c/bj/plugins/carrier/notify", BODY, timestamp=now)
    check = dict(key_id="k1", secret=SECRET, method="POST", target="/c/bj/plugins/carrier/notify", body=BODY)
    assert signing.problem(head, **check) == ""
    assert signing.problem({k.lower(): v for k, v in head.items()}, **check) == ""  # header names in any case
    assert signing.problem(head, **{**check, "body": BODY + b" "}) == "invalid_signature"
    assert signing.problem(head, **{**check, "target": "/c/sh/plugins/carrier/notify"}) == "invalid_signature"
    assert signing.problem(head, **{**check, "method": "PUT"}) == "invalid_signature"
    assert signing.problem(head, **{**check, "secret": SECRET + "x"}) == "invalid_signature"
    assert signing.problem(head, **{**check, "key_id": "k2"}) == "unknown_key"
    assert signing.problem({**head, signing.NONCE: "short"}, **check) == "invalid_signature"
    for skew in (-301, 301):
        old = signing.headers("k1", SECRET, "POST", check["target"], BODY, timestamp=now + skew)
        assert signing.problem(old, **check) == "stale"
    assert signing.problem({**head, signing.TIMESTAMP: "soon"}, **check) == "stale"


def test_order_numbers_name_a_booking_of_one_city():
    order = orders.order_no(12, "7K4MQ-9XT2B")
    assert order == "GH12C7K4MQ9XT2B" and orders.booking_of(order, 12) == "7K4MQ-9XT2B"
    assert orders.booking_of(order, 13) == ""
    assert orders.booking_of(orders.order_no(3, "GHABCDEFGHIJKLMNOP"), 3) == "GHABCDEFGHIJKLMNOP"
    assert orders.booking_of(order + "; drop", 12) == "" and orders.booking_of("", 12) == ""
    assert orders.refund_no(order, 1250) == "GH12C7K4MQ9XT2BR1250"
