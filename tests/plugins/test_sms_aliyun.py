"""The Alibaba Cloud SMS sender against a local gateway that verifies ACS3 signatures."""

from types import SimpleNamespace

from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.plugins.channels.sms_aliyun import AliyunSmsSender, retryable
from guahao.plugins.channels.sms_aliyun.signing import canonical_query

CITY = SimpleNamespace(slug="bj", name="北京")
PARAMS = {
    "name": "张三",
    "booking_no": "B2401",
    "when": "2031年1月2日（星期四）上午 08:00-08:30",
    "place": "第一人民医院 呼吸内科",
}


def message(**kw) -> OutgoingMessage:
    base = dict(notification_id=41, kind="booking_confirmed", channel="sms", recipient="13800138000", body="…", params=PARAMS)
    return OutgoingMessage(**{**base, **kw})


def configured(fake, *, secret=None, **settings):
    key_id, real_secret = fake.add_key()
    fake.templates["SMS_100"] = {"name", "no", "time"}
    conf = {
        "sign_name": "北京预约挂号",
        "endpoint": fake.url,
        "templates": {"booking_confirmed": {"code": "SMS_100", "params": {"name": "name", "no": "booking_no", "time": "when"}}},
        **settings,
    }
    return key_id, conf, {"access_key_id": key_id, "access_key_secret": secret or real_secret}


async def test_a_signed_request_is_accepted_with_the_template_params(aliyun_sms):
    key_id, settings, secrets = configured(aliyun_sms)
    result = await AliyunSmsSender().send(CITY, message(), settings, secrets)
    assert result.ok and result.status == "sent" and result.provider_ref
    [sent] = aliyun_sms.messages(key_id)
    assert sent["phones"] == ["13800138000"] and sent["sign"] == "北京预约挂号" and sent["template"] == "SMS_100"
    assert sent["values"] == {"name": "张三", "no": "B2401", "time": PARAMS["when"]}
    assert sent["out_id"] == "41" and sent["biz_id"] == result.provider_ref


async def test_a_wrong_secret_is_refused_by_the_gateway_and_not_retried(aliyun_sms):
    key_id, settings, secrets = configured(aliyun_sms, secret="not-the-secret")
    result = await AliyunSmsSender().send(CITY, message(), settings, secrets)
    assert result.status == "failed" and not result.retryable and "SignatureDoesNotMatch" in result.error
    assert result.error.startswith("sms_aliyun: ") and "not-the-secret" not in result.error
    assert aliyun_sms.messages(key_id) == []


async def test_an_unknown_key_and_a_stale_timestamp_are_refused(aliyun_sms):
    from datetime import timedelta

    from guahao.tenants.clock import frozen, utcnow

    _, settings, secrets = configured(aliyun_sms)
    unknown = await AliyunSmsSender().send(CITY, message(), settings, {**secrets, "access_key_id": "LTAInope"})
    assert "InvalidAccessKeyId.NotFound" in unknown.error
    with frozen(utcnow() - timedelta(hours=1)):
        stale = await AliyunSmsSender().send(CITY, message(), settings, secrets)
    assert not stale.ok and "InvalidTimeStamp.Expired" in stale.error


async def test_gateway_errors_map_to_retryable_or_permanent(aliyun_sms):
    key_id, settings, secrets = configured(aliyun_sms)
    bad_number = await AliyunSmsSender().send(CITY, message(recipient="1380013"), settings, secrets)
    assert "isv.MOBILE_NUMBER_ILLEGAL" in bad_number.error and not bad_number.retryable
    aliyun_sms.inject[key_id].append("isv.BUSINESS_LIMIT_CONTROL")
    throttled = await AliyunSmsSender().send(CITY, message(), settings, secrets)
    assert not throttled.ok and throttled.retryable
    no_template = await AliyunSmsSender().send(CITY, message(kind="reminder_30min"), settings, secrets)
    assert not no_template.ok and not no_template.retryable and "no template" in no_template.error
    assert retryable("Throttling.User") and retryable("isp.SYSTEM_ERROR") and not retryable("isv.SMS_SIGNATURE_ILLEGAL")


async def test_a_gateway_outage_or_a_slow_answer_is_retried_later_by_core(aliyun_sms):
    key_id, settings, secrets = configured(aliyun_sms, timeout=0.3)
    aliyun_sms.outages[key_id].extend([503, 503])
    down = await AliyunSmsSender().send(CITY, message(), settings, secrets)
    assert down.status == "failed" and down.retryable and "HTTP 503" in down.error
    assert len(aliyun_sms.outages[key_id]) == 1  # one request: SendSms is not repeated inside the send
    aliyun_sms.outages[key_id].clear()
    aliyun_sms.delays[key_id].append(1.0)
    slow = await AliyunSmsSender().send(CITY, message(), settings, secrets)
    assert slow.status == "failed" and slow.retryable and "no answer within 0.3 s" in slow.error


async def test_a_member_without_a_number_is_unreachable_not_failed(aliyun_sms):
    _, settings, secrets = configured(aliyun_sms)
    result = await AliyunSmsSender().send(CITY, message(recipient=""), settings, secrets)
    assert result.status == "unreachable" and not result.ok and not result.retryable


def test_canonical_query_encodes_as_the_protocol_says():
    assert canonical_query({"b": "a b*~", "A": "中"}) == "A=%E4%B8%AD&b=a%20b%2A~"
