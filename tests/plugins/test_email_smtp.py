"""The SMTP sender against a local aiosmtpd server that requires login."""

import uuid
from types import SimpleNamespace

from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.plugins.channels.email_smtp import SmtpSender

CITY = SimpleNamespace(slug="gz", name="广州")


def configured(fake, password=None):
    user = f"u{uuid.uuid4().hex[:8]}"
    fake.users[user] = "s3cret"
    settings = {"host": "127.0.0.1", "port": fake.port, "from": "noreply@guahao.example"}
    return settings, {"username": user, "password": password or "s3cret"}


def message(**kw) -> OutgoingMessage:
    base = dict(notification_id=9, kind="booking_confirmed", channel="email", recipient="", body="张三您好，您已预约成功。")
    return OutgoingMessage(**{**base, **kw})


async def test_a_mail_is_delivered_after_login(smtp_server):
    settings, secrets = configured(smtp_server)
    to = f"{uuid.uuid4().hex[:6]}@example.com"
    result = await SmtpSender().send(CITY, message(recipient=to), settings, secrets)
    assert result.ok
    [mail] = [m for m in smtp_server.messages if m["To"] == to]
    assert mail["Subject"] == "预约成功通知" and mail["From"] == "noreply@guahao.example"
    assert "您已预约成功" in mail.get_content() and "notification-9" in mail["Message-ID"]


async def test_a_wrong_password_and_a_refused_mailbox_fail_for_good(smtp_server):
    settings, secrets = configured(smtp_server, password="wrong")
    bad = await SmtpSender().send(CITY, message(recipient="a@example.com"), settings, secrets)
    assert bad.status == "failed" and not bad.retryable and "login refused" in bad.error
    settings, secrets = configured(smtp_server)
    smtp_server.refuse.add("gone@example.com")
    gone = await SmtpSender().send(CITY, message(recipient="gone@example.com"), settings, secrets)
    assert gone.status == "failed" and not gone.retryable and "refused" in gone.error


async def test_a_member_without_an_address_is_skipped(smtp_server):
    settings, secrets = configured(smtp_server)
    result = await SmtpSender().send(CITY, message(recipient=""), settings, secrets)
    assert result.status == "unreachable" and not result.ok and not result.retryable


async def test_a_server_that_cannot_be_reached_is_retried_later_by_core():
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = {"host": "127.0.0.1", "port": port, "from": "noreply@guahao.example", "timeout": 2}
    result = await SmtpSender().send(CITY, message(recipient="a@example.com"), settings, {})
    assert result.status == "failed" and result.retryable and "ConnectionRefusedError" in result.error
