"""pytest fixtures serving the fakes (once per test session; tests use their own keys)."""

from __future__ import annotations

import pytest

from .aliyun_sms import FakeAliyunSms
from .live import LiveServer
from .smtp import FakeSmtp
from .tencent_sms import FakeTencentSms
from .wechat import FakeWeChat


@pytest.fixture(scope="session")
def aliyun_sms():
    fake = FakeAliyunSms()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def tencent_sms():
    fake = FakeTencentSms()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def wechat_api():
    fake = FakeWeChat()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def smtp_server():
    fake = FakeSmtp().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def stripe_api():
    from .stripe import FakeStripe

    fake = FakeStripe()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake
