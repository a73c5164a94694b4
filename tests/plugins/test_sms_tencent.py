"""The Tencent Cloud SMS sender against a local endpoint that verifies TC3-HMAC-SHA256."""

from datetime import timedelta
from types import SimpleNamespace

from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.plugins.channels.sms_tencent import TencentSmsSender, e164
from guahao.tenants.clock import frozen, utcnow

CITY = SimpleNamespace(slug="sh", name="上海")
PARAMS = {"name": "李四", "booking_no": "B7", "when": "1月2日 08:00", "hospital": "第一人民医院"}


def message(**kw) -> OutgoingMessage:
    base = dict(notification_id=7, kind="reminder_day_before", channel="sms", recipient="13912345678", body="…", params=PARAMS)
    return OutgoingMessage(**{**base, **kw})


def configured(fake, **secret_override):
    secret_id, secret_key = fake.add_key()
    fake.templates["2001"] = 3
    settings = {
        "sdk_app_id": "1400000001",
        "sign_name": "上海预约挂号",
        "endpoint": fake.url,
        "templates": {"reminder_day_before": {"code": "2001", "params": ["name", "when", "booking_no"]}},
    }
    return secret_id, settings, {"secret_id": secret_id, "secret_key": secret_key, **secret_override}


async def test_a_signed_request_reaches_the_number_in_e164_with_ordered_params(tencent_sms):
    secret_id, settings, secrets = configured(tencent_sms)
    result = await TencentSmsSender().send(CITY, message(), settings, secrets)
    assert result.status == "sent" and result.provider_ref.startswith("2645:")
    [sent] = tencent_sms.messages(secret_id)
    assert sent["phone"] == "+8613912345678" and sent["app"] == "1400000001" and sent["template"] == "2001"
    assert sent["params"] == ["李四", "1月2日 08:00", "B7"] and sent["context"] == "7"


async def test_a_wrong_key_an_unknown_id_and_a_stale_timestamp_are_refused(tencent_sms):
    secret_id, settings, secrets = configured(tencent_sms, secret_key="wrong")
    bad = await TencentSmsSender().send(CITY, message(), settings, secrets)
    assert bad.status == "failed" and not bad.retryable and "AuthFailure.SignatureFailure" in bad.error
    assert bad.error.startswith("sms_tencent: ")
    unknown = await TencentSmsSender().send(CITY, message(), settings, {**secrets, "secret_id": "AKIDnope"})
    assert "AuthFailure.SecretIdNotFound" in unknown.error
    _, settings, secrets = configured(tencent_sms)
    with frozen(utcnow() - timedelta(minutes=30)):
        stale = await TencentSmsSender().send(CITY, message(), settings, secrets)
    assert "AuthFailure.SignatureExpire" in stale.error
    assert tencent_sms.messages(secret_id) == []


async def test_per_number_status_codes_map_to_retryable_or_permanent(tencent_sms):
    secret_id, settings, secrets = configured(tencent_sms)
    bad_number = await TencentSmsSender().send(CITY, message(recipient="12345"), settings, secrets)
    assert "IncorrectPhoneNumber" in bad_number.error and not bad_number.retryable
    tencent_sms.inject[secret_id].append("LimitExceeded.PhoneNumberThirtySecondLimit")
    limited = await TencentSmsSender().send(CITY, message(), settings, secrets)
    assert limited.status == "failed" and limited.retryable
    wrong_count = {**settings, "templates": {"reminder_day_before": {"code": "2001", "params": ["name"]}}}
    mismatch = await TencentSmsSender().send(CITY, message(), wrong_count, secrets)
    assert "TemplateParameterFormatError" in mismatch.error and not mismatch.retryable


async def test_a_member_without_a_number_is_unreachable(tencent_sms):
    secret_id, settings, secrets = configured(tencent_sms)
    result = await TencentSmsSender().send(CITY, message(recipient=""), settings, secrets)
    assert result.status == "unreachable" and not result.retryable and tencent_sms.messages(secret_id) == []


async def test_an_endpoint_that_refuses_connections_is_retried_later_by_core(tencent_sms):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    _, settings, secrets = configured(tencent_sms)
    result = await TencentSmsSender().send(CITY, message(), {**settings, "endpoint": f"http://127.0.0.1:{port}"}, secrets)
    assert result.status == "failed" and result.retryable and "connection failed" in result.error
    assert secrets["secret_key"] not in result.error


def test_mainland_numbers_become_e164():
    assert e164("13800138000") == "+8613800138000"
    assert e164("+85291234567") == "+85291234567"
