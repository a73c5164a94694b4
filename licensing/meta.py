"""The declaration of licensing: part of the platform in every city, not a choice of one."""

from __future__ import annotations

from pathlib import Path

from guahao.plugin_api import PluginMeta

META = PluginMeta(
    name="licensing",
    verbose_name="授权与计量",
    verbose_name_en="Licensing and metering",
    category="licensing",
    version="1.0.0",
    description="记录每个城市的用量（预约、支付、短信、来电、接口调用），按合同出具账单，并校验厂商签发的许可证。",
    description_en="Meters each city's usage (bookings, payments, messages, calls, API calls), invoices it per "
    "contract and checks the licence the vendor signed.",
    migrations=Path(__file__).parent / "migrations",
    always_enabled=True,
    author="guahao",
)
