"""A sender's outcome as data: the constructors, the older ``ok=`` form, and transport errors."""

import pytest

from guahao.core.plugins.http import TransportError
from guahao.core.plugins.interfaces import SendResult


def test_the_constructors_say_what_happened():
    sent = SendResult.sent("BIZ-1")
    assert (sent.status, sent.ok, sent.provider_ref, sent.retryable) == ("sent", True, "BIZ-1", False)
    later = SendResult.failed("gateway busy", retry_after=30)
    assert (later.status, later.ok, later.retryable, later.retry_after) == ("failed", False, True, 30)
    final = SendResult.refused("no template")
    assert (final.status, final.retryable, final.error) == ("failed", False, "no template")
    nobody = SendResult.unreachable("no openid")
    assert (nobody.status, nobody.ok, nobody.retryable, nobody.error) == ("unreachable", False, False, "no openid")


def test_the_older_form_still_means_sent_or_failed():
    assert SendResult(ok=True, provider_ref="x") == SendResult.sent("x")
    assert SendResult(ok=False, error="busy") == SendResult.failed("busy")
    assert SendResult(ok=False, error="bad", retryable=False) == SendResult.refused("bad")
    with pytest.raises(ValueError):
        SendResult(ok=True, status="unreachable")
    with pytest.raises(ValueError):
        SendResult(status="skipped")
    with pytest.raises(TypeError):
        SendResult()


def test_a_transport_error_becomes_a_failure_that_keeps_its_kind():
    temporary = TransportError("HTTP 429", code="http_429", status=429, retry_after=12)
    temporary.source = "sms_aliyun"
    result = SendResult.from_error(temporary)
    assert (result.status, result.retryable, result.retry_after, result.error) == ("failed", True, 12, "sms_aliyun: HTTP 429")
    assert not SendResult.from_error(TransportError("isv.MOBILE_NUMBER_ILLEGAL", permanent=True)).retryable
