"""The local Alipay gateway the tests run against: the plugin's practice gateway
(:mod:`guahao.plugins.payments.alipay.practice`), served on a port of the test's own
(``tests.fakes.live.LiveServer``, then ``fake.url = server.url``)."""

from __future__ import annotations

from guahao.plugins.payments.alipay.practice import Account, new_key, private_pem, public_pem
from guahao.plugins.payments.alipay.practice import PracticeAlipay as FakeAlipay

__all__ = ["Account", "FakeAlipay", "new_key", "private_pem", "public_pem"]
