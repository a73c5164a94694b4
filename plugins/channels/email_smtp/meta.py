"""The declaration of the SMTP e-mail sender: metadata and settings."""

from __future__ import annotations

from guahao.core.plugins.sender_settings import SenderSettings
from guahao.plugin_api import PluginMeta, setting, timeout_setting


class Settings(SenderSettings):
    host: str = setting(label="SMTP 服务器", label_en="SMTP server", max_length=253, example="smtp.example.cn",
                        help="发信服务器的主机名。", help_en="Host name of the mail server.")
    port: int = setting(25, label="端口", label_en="Port", ge=1, le=65535,
                        help="常用 25、465 或 587。", help_en="Usually 25, 465 or 587.")
    sender: str = setting(label="发件人地址", label_en="From address", pattern=r"^[^@\s]+@[^@\s]+$", key="from",
                          example="noreply@guahao.example.cn", help="邮件的发件人。", help_en="The address mails come from.")
    use_tls: bool = setting(False, label="使用 STARTTLS", label_en="Use STARTTLS",
                            help="服务器支持时请打开。", help_en="Turn on when the server supports it.")
    timeout: float = timeout_setting(15.0, "邮件服务器", "the server", most=120)
    username: str = setting("", secret=True, label="登录用户名", label_en="User name",
                            help="服务器要求登录时填写。", help_en="When the server asks for a login.")
    password: str = setting("", secret=True, label="登录密码", label_en="Password",
                            help="与用户名成对。", help_en="The password of that user.")


META = PluginMeta(
    name="email_smtp", verbose_name="电子邮件（SMTP）", verbose_name_en="E-mail (SMTP)", category="notification",
    version="1.0.0", description="通过本市的邮件服务器发送通知邮件。",
    description_en="Notification e-mails through the city's own mail server.",
    settings=Settings, author="guahao",
)
