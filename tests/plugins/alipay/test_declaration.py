"""The alipay plugin's declaration, its settings checks, amounts and addresses."""

from __future__ import annotations

import pytest

from guahao.core.plugins.settings import SettingsInvalid, validate
from guahao.plugins.payments.alipay import links, trades
from guahao.plugins.payments.alipay.keys import KeyInvalid, private_key, public_key
from guahao.plugins.payments.alipay.meta import META
from guahao.plugins.payments.alipay.money import fen, yuan
from tests.fakes.alipay import new_key, private_pem, public_pem


@pytest.fixture(scope="module")
def keys():
    app, alipay = new_key(), new_key()
    return private_pem(app), public_pem(alipay)


def test_declaration_and_settings(keys):
    META.check("alipay")
    app_private, alipay_public = keys
    settings, _ = validate("alipay", META.settings, {"app_id": "2021000000000001"},
                           {"app_private_key": app_private, "alipay_public_key": alipay_public})
    assert settings == {"app_id": "2021000000000001"}  # defaults are not stored: the gateway stays Alipay's
    # `--set app_id=2021…` on the command line arrives as a JSON number: taken as the APPID.
    validate("alipay", META.settings, {"app_id": 2021000000000001}, {}, enabled=False)
    with pytest.raises(SettingsInvalid) as err:  # the keys swapped, a made-up APPID, RSA (SHA-1)
        validate("alipay", META.settings, {"app_id": "abc", "sign_type": "RSA"},
                 {"app_private_key": alipay_public, "alipay_public_key": app_private})
    assert set(err.value.errors) == {"app_id", "sign_type", "app_private_key", "alipay_public_key"}
    assert "私钥" in err.value.errors["alipay_public_key"].message
    with pytest.raises(SettingsInvalid) as err:
        validate("alipay", META.settings, {}, {})
    assert {"app_id", "app_private_key", "alipay_public_key"} <= set(err.value.errors)


def test_bare_base64_keys_are_wrapped(keys):
    app_private, alipay_public = keys
    bare = "".join(line for line in alipay_public.splitlines() if not line.startswith("-----"))
    assert public_key(bare).startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeyInvalid):
        private_key("not a key")
    with pytest.raises(KeyInvalid):
        public_key(app_private)


def test_amounts_are_exact():
    assert [yuan(x) for x in (0, 1, 10, 1250, 5000, 123456789)] == ["0.00", "0.01", "0.10", "12.50", "50.00", "1234567.89"]
    assert [fen(x) for x in ("12.50", "12.5", "12", "0.01", "1234567.89")] == [1250, 1250, 1200, 1, 123456789]
    for bad in ("-1.00", "1.001", "1e3", "", "12.50元", "0x10"):
        with pytest.raises(ValueError):
            fen(bad)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            yuan(bad)


def test_trade_numbers_name_a_booking_of_one_city():
    trade = trades.out_trade_no(12, "7K4MQ-9XT2B")
    assert trade == "GH12_7K4MQ9XT2B" and trades.booking_of(trade, 12) == "7K4MQ-9XT2B"
    assert trades.booking_of(trade, 13) == ""
    old = trades.out_trade_no(3, "GHABCDEFGHIJKLMNOP")
    assert trades.booking_of(old, 3) == "GHABCDEFGHIJKLMNOP"
    assert trades.booking_of("GH12_7K4MQ9XT2B; drop", 12) == ""


def test_returns_stay_in_the_city_and_hints_pick_the_client():
    token = links.return_target("https://x.cn/c/bj/bookings/AB/paid?pay_client=mobile&pay_ip=10.0.0.9&x=1")
    assert links.target_path(token, "bj") == "/c/bj/bookings/AB/paid?x=1"
    assert links.target_path(token, "sh") is None
    assert links.target_path(links.return_target("https://evil.example//c/bj/"), "bj") is None
    assert links.target_path("%%%", "bj") is None
    assert links.pay_client("https://x.cn/c/bj/b/AB/paid?pay_client=kiosk") == "kiosk"
    assert links.pay_client("https://x.cn/c/bj/b/AB/paid") == links.pay_client(None) == ""
    assert links.site_of({}, "https://x.cn:8443/c/bj/b") == "https://x.cn:8443"
    assert links.site_of({"notify_base_url": "https://pay.example.cn/"}, "http://10.0.0.1/c/bj/b") == "https://pay.example.cn"
