"""E-mail through the city's SMTP server (Python's ``smtplib`` in a worker thread).

City settings: ``host``, ``port`` (default 25), ``from`` (sender address), ``use_tls``
(STARTTLS), ``timeout``, ``priority``. Secrets: ``username``, ``password`` (login only when a
username is given). Core routes a message here only when the member or the notification has an
address; without one the result is ``unreachable`` and the message is skipped, not failed.

A refused recipient, a refused login or a 5xx answer is permanent; 4xx answers, dropped
connections and timeouts are retried with back-off by core.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Mapping

from guahao.core.hookspecs import hookimpl
from guahao.core.plugins.interfaces import NotificationSender, OutgoingMessage, SendResult

from .meta import META  # noqa: F401  (the plugin's declaration)

NAME = "email_smtp"

SUBJECTS = {
    "booking_confirmed": "预约成功通知",
    "booking_pending_payment": "待支付提醒",
    "booking_cancelled": "预约取消通知",
    "booking_expired": "预约失效通知",
    "reminder_day_before": "就诊提醒（明天）",
    "reminder_30min": "就诊提醒",
    "waitlist_offer": "候补号源通知",
    "credit_suspended": "预约资格暂停通知",
    "survey_invitation": "就诊满意度调查邀请",
}


def build_email(message: OutgoingMessage, settings: Mapping) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = str(settings["from"])
    mail["To"] = message.recipient
    mail["Subject"] = SUBJECTS.get(message.kind, "预约挂号平台通知")
    mail["Message-ID"] = make_msgid(idstring=f"notification-{message.notification_id}")
    mail.set_content(message.body)
    return mail


def _send_blocking(mail: EmailMessage, settings: Mapping, secrets: Mapping) -> None:
    port = int(settings.get("port") or 25)
    with smtplib.SMTP(str(settings["host"]), port, timeout=float(settings.get("timeout", 15))) as smtp:
        if settings.get("use_tls"):
            smtp.starttls(context=ssl.create_default_context())
        if secrets.get("username"):
            smtp.login(str(secrets["username"]), str(secrets.get("password", "")))
        smtp.send_message(mail)


class SmtpSender(NotificationSender):
    name = NAME
    verbose_name = "电子邮件（SMTP）"
    channels = frozenset({"email"})
    priority = 30

    async def send(self, city, message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        if not message.recipient or "@" not in message.recipient:
            return SendResult.unreachable("no e-mail address for this member")
        if not settings.get("host") or not settings.get("from"):
            return SendResult.refused("email_smtp: host and from must be configured")
        mail = build_email(message, settings)
        try:
            await asyncio.to_thread(_send_blocking, mail, settings, secrets)
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult.refused(f"email_smtp: recipient refused: {exc.recipients}")
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult.refused(f"email_smtp: login refused ({exc.smtp_code})")
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            if exc.smtp_code >= 500:
                return SendResult.refused(f"email_smtp {exc.smtp_code}: {text}")
            return SendResult.failed(f"email_smtp {exc.smtp_code}: {text}")
        except (OSError, smtplib.SMTPException) as exc:  # refused or dropped connection, timeout
            return SendResult.failed(f"email_smtp: {type(exc).__name__}: {exc}")
        return SendResult.sent(str(mail["Message-ID"]))


@hookimpl
def guahao_notification_senders():
    return [SmtpSender()]
