"""The plugin's declaration: metadata, settings, secrets, and what the checks refuse."""

from __future__ import annotations

import pytest

from guahao.core.plugins.settings import SettingsInvalid, validate
from guahao.plugins.payments.wechatpay import META
from guahao.plugins.payments.wechatpay.meta import Settings
from tests.fakes.wechatpay import new_key

PRIVATE, PUBLIC = new_key()
GOOD = {"mchid": "1900000109", "appid": "wxd678efh567hg6787", "cert_serial_no": "5157F09EFDC096DE15EBE81A47057A72",
        "platform_public_key_id": "PUB_KEY_ID_0114232134912410000000000000"}
SECRETS = {"private_key": PRIVATE, "apiv3_key": "a" * 32, "platform_public_key": PUBLIC}


def test_the_declaration_checks_and_names_its_settings_as_wechat_pay_does():
    META.check("wechatpay")
    assert META.category == "payment" and META.verbose_name == "微信支付"
    fields = Settings.model_fields
    assert {"mchid", "appid", "cert_serial_no", "platform_public_key_id", "api_base"} <= fields.keys()
    secret = {name for name, f in fields.items() if (f.json_schema_extra or {}).get("secret")}
    assert secret == {"private_key", "apiv3_key", "platform_public_key"}
    settings, secrets = validate("wechatpay", Settings, GOOD, SECRETS)
    assert settings["mchid"] == "1900000109" and secrets["apiv3_key"] == "a" * 32
    assert fields["api_base"].default == "https://api.mch.weixin.qq.com"
    settings, _ = validate("wechatpay", Settings, {**GOOD, "mchid": 1900000109}, SECRETS)  # typed as a number
    assert settings["mchid"] == "1900000109"


@pytest.mark.parametrize("change, field", [
    ({"mchid": "19x"}, "mchid"), ({"appid": "not-an-appid"}, "appid"),
    ({"platform_public_key_id": "0114"}, "platform_public_key_id"), ({"api_base": "ftp://x"}, "api_base"),
])
def test_bad_settings_are_refused_field_by_field(change, field):
    with pytest.raises(SettingsInvalid) as err:
        validate("wechatpay", Settings, {**GOOD, **change}, SECRETS)
    assert field in err.value.errors


@pytest.mark.parametrize("change, field", [
    ({"apiv3_key": "short"}, "apiv3_key"), ({"private_key": PUBLIC}, "private_key"),
    ({"platform_public_key": PRIVATE}, "platform_public_key"),
])
def test_bad_secrets_are_refused(change, field):
    with pytest.raises(SettingsInvalid) as err:
        validate("wechatpay", Settings, GOOD, {**SECRETS, **change})
    assert field in err.value.errors
