"""The declaration of the pay-at-hospital provider: metadata and settings."""

from __future__ import annotations

from guahao.plugin_api import PluginMeta, PluginSettings, setting


class Settings(PluginSettings):
    where: str = setting("医院挂号收费窗口或自助机", label="缴费地点", label_en="Where to pay", max_length=60,
                         help="告诉患者就诊当日在哪里缴纳挂号费。", help_en="Where patients pay the fee on the day.")


META = PluginMeta(
    name="pay_at_hospital", verbose_name="到院支付", verbose_name_en="Pay at the hospital", category="payment",
    version="1.0.0", description="预约即确认，挂号费就诊当日在医院窗口或自助机缴纳。",
    description_en="Bookings are confirmed at once; the fee is paid at the hospital on the day.",
    settings=Settings, author="guahao",
)
