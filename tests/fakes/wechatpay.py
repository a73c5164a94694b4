"""The local WeChat Pay API v3 the tests run against: the plugin's practice gateway
(:mod:`guahao.plugins.payments.wechatpay.practice`), served on a port of the test's own
(``tests.fakes.live.LiveServer``, then ``fake.url = server.url``)."""

from __future__ import annotations

from guahao.plugins.payments.wechatpay.practice import Failure, Merchant, new_key
from guahao.plugins.payments.wechatpay.practice import PracticeWeChatPay as FakeWeChatPay

__all__ = ["Failure", "FakeWeChatPay", "Merchant", "new_key"]
