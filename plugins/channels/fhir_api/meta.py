"""The declaration of the FHIR scheduling API (FHIR 预约接口): metadata and settings."""

from __future__ import annotations

from pathlib import Path

from guahao.plugin_api import PluginMeta, PluginSettings, setting


class Settings(PluginSettings):
    token_minutes: int = setting(
        60, label="访问令牌有效期（分钟）", label_en="Access token lifetime (minutes)", ge=5, le=24 * 60,
        help="令牌端点签发的 Bearer 令牌在此时长后失效，第三方需重新申请。",
        help_en="Bearer tokens from the token endpoint expire after this long.",
    )
    max_find_days: int = setting(
        14, label="$find 最长时间范围（天）", label_en="Longest $find range (days)", ge=1, le=90,
        help="一次 $find 查询的 start 到 end 不得超过此天数。",
        help_en="A $find's start to end may span at most this many days.",
    )
    bulk_days: int = setting(
        14, label="批量发布天数", label_en="Days published in bulk", ge=1, le=60,
        help="$bulk-publish 发布从今天起此天数内的号源。",
        help_en="$bulk-publish lists the slots of this many days from today.",
    )
    bulk_max_age: int = setting(
        300, label="批量发布缓存（秒）", label_en="Bulk files cache (seconds)", ge=0, le=86400,
        help="$bulk-publish 清单和文件的 Cache-Control: max-age。",
        help_en="Cache-Control max-age of the $bulk-publish manifest and files.",
    )
    booking_phone: str = setting(
        "", label="预约电话", label_en="Booking phone", max_length=40, example="12320",
        help="写入批量发布号源的 booking-phone 扩展；留空则不写。",
        help_en="The booking-phone extension of published slots; none when empty.",
    )
    public_base_url: str = setting(
        "", label="患者网站地址", label_en="Patient site address", pattern=r"^(https?://\S+)?$",
        example="https://guahao.example.cn",
        help="号源预约深链接的网站根地址；留空则用请求的地址。",
        help_en="Root of the booking deep links of published slots; the request's address when empty.",
    )


META = PluginMeta(
    name="fhir_api", verbose_name="FHIR 预约接口", verbose_name_en="FHIR scheduling API", category="channel",
    version="1.0.0",
    description="面向第三方应用的 FHIR R4 预约接口（IHE ITI Scheduling：$find、$hold、$book），"
                "OAuth 2.0 客户端凭证、权限范围、每日预约配额与限流，并以 SMART Scheduling Links 发布号源。",
    description_en="A FHIR R4 scheduling API for third-party applications (IHE ITI Scheduling: $find, $hold, "
                   "$book) with OAuth 2.0 client credentials, scopes, daily booking quotas and rate limits, and "
                   "the city's open slots as SMART Scheduling Links.",
    settings=Settings, migrations=Path(__file__).parent / "migrations", author="guahao",
)
