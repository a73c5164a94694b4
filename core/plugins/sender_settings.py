"""Settings every notification sender shares: its rank among the city's senders and the
channels it is used for. A sender's own settings model extends :class:`SenderSettings`."""

from __future__ import annotations

from typing import Literal

from .settings import PluginSettings, setting

Channel = Literal["sms", "wechat", "email", "voice", "push"]


class SenderSettings(PluginSettings):
    """``priority`` (lower wins when several senders can reach a member) and ``channels``
    (leave empty for every channel the sender can deliver)."""

    priority: int | None = setting(None, label="优先级", label_en="Priority", ge=0, le=1000,
                                   help="几个发送方都能送达时，数字小的先用；留空用发送方自带的顺序。",
                                   help_en="When several senders can reach a member, the lower number is used "
                                           "first; empty keeps the sender's own rank.")
    channels: list[Channel] = setting(default_factory=list, label="使用的渠道", label_en="Channels used",
                                      widget="list", example=["sms"],
                                      help="留空表示该发送方支持的全部渠道；可填 sms、wechat、email、voice、push，用逗号分隔。",
                                      help_en="Empty for every channel it supports; otherwise a comma-separated "
                                              "list of sms, wechat, email, voice, push.")


TEMPLATES_HELP = ("消息类型 → 服务商模板。值为模板编号，或 {\"code\": 编号, \"params\": 参数} 对象；"
                  "类型如 booking_confirmed、booking_cancelled、reminder_day_before、login_code。")
TEMPLATES_HELP_EN = ("Message kind → provider template: a template code, or {\"code\": code, \"params\": …}; kinds "
                     "such as booking_confirmed, booking_cancelled, reminder_day_before, login_code.")
