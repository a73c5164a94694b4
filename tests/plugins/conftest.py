"""Fixtures for the plugin tests: the fakes of the far ends."""

from tests.fakes.fixtures import aliyun_sms, smtp_server, tencent_sms, wechat_api  # noqa: F401 (fixtures)
