"""The declaration of the message log sender: metadata and settings."""

from __future__ import annotations

from guahao.core.plugins.sender_settings import SenderSettings
from guahao.plugin_api import PluginMeta, setting


class Settings(SenderSettings):
    public_log: bool = setting(False, label="公开消息记录页", label_en="Public message log",
                               help="在 /c/{城市}/messages 公开显示消息记录（只用于演示：其中有患者姓名和就诊信息）。",
                               help_en="Show the log to anyone at /c/{city}/messages (demos only: it names patients "
                                       "and their visits).")


META = PluginMeta(
    name="message_log", verbose_name="站内消息记录", verbose_name_en="Message log", category="notification",
    version="1.0.0", description="消息不外发，记入本市的消息记录（演示与尚未开通短信的城市）。",
    description_en="Messages stay inside the platform, in the city's message log (demos, cities without SMS yet).",
    settings=Settings, author="guahao",
)
