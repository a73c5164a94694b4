"""The declaration of the WeChat template-message sender: metadata and settings."""

from __future__ import annotations

from guahao.core.plugins.sender_settings import SenderSettings
from guahao.plugin_api import PluginMeta, endpoint_setting, setting, timeout_setting


class Settings(SenderSettings):
    app_id: str = setting(label="公众号 AppID", label_en="Official Account AppID", pattern=r"^wx[0-9a-f]{16}$",
                          example="wx0123456789abcdef", help="公众号后台“设置与开发 → 基本配置”中的开发者 ID。",
                          help_en="The developer ID under Settings & Development → Basic configuration.")
    templates: dict[str, dict] = setting(
        default_factory=dict, label="模板消息", label_en="Templates",
        example={"booking_confirmed": {"template_id": "abc123", "params": {"thing1": "doctor"}, "url": ""}},
        help="消息类型 → {\"template_id\": 模板 ID, \"params\": {模板字段: 消息参数}, \"url\": 点击打开的地址}；"
             "不写 params 时全文放入 content 字段。",
        help_en="Message kind → {\"template_id\": id, \"params\": {template key: message param}, \"url\": link}; "
                "without params the whole text goes into content.")
    endpoint: str = endpoint_setting("https://api.weixin.qq.com")
    timeout: float = timeout_setting(10.0, "微信接口", "WeChat")
    app_secret: str = setting(secret=True, label="AppSecret", label_en="AppSecret", min_length=16,
                              help="公众号的开发者密码。", help_en="The Official Account's developer secret.")


META = PluginMeta(
    name="wechat_template", verbose_name="微信公众号模板消息", verbose_name_en="WeChat template messages",
    category="notification", version="1.0.0",
    description="通过本市公众号向已关注的患者发送预约与提醒模板消息。",
    description_en="Booking and reminder template messages to patients who follow the city's Official Account.",
    settings=Settings, author="guahao",
)
