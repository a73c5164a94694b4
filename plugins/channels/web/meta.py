"""The declaration of the patient web site: metadata and settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from guahao.plugin_api import PluginMeta, PluginSettings, setting


class KioskTerminal(BaseModel):
    """One self-service machine: the hospital it stands in and the name on its receipts."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    hospital_id: int = Field(ge=1)
    name: str = Field(default="", max_length=40)


class Settings(PluginSettings):
    moderate_reviews: bool = setting(False, label="评价先审后发", label_en="Moderate reviews",
                                     help="打开后患者的医生评价经审核才公开。",
                                     help_en="Doctor reviews are published only after staff approve them.")
    kiosk_terminals: dict[str, KioskTerminal] = setting(
        default_factory=dict, label="自助机", label_en="Kiosk terminals",
        example={"sy01-k1": {"hospital_id": 1, "name": "门诊大厅 1 号机"}},
        help="自助机编号 → {\"hospital_id\": 医院编号, \"name\": 名称}；绑定后该机只办理本院业务。",
        help_en="Terminal id → {\"hospital_id\": hospital, \"name\": name}; a bound terminal serves only that hospital.")

    @field_validator("kiosk_terminals")
    @classmethod
    def _ids(cls, value: dict[str, KioskTerminal]) -> dict[str, KioskTerminal]:
        from .terminals import VALID_ID

        bad = [k for k in value if not VALID_ID.match(k)]
        if bad:
            raise ValueError(f"自助机编号只能用字母、数字、点、横线和下划线（1–40 位）：{', '.join(bad[:3])}")
        return value


META = PluginMeta(
    name="web", verbose_name="患者网站与自助机", verbose_name_en="Patient web site and kiosk", category="channel",
    version="1.0.0", description="本市的预约挂号网站（手机与电脑）和医院自助机模式，网址 /c/{城市}/。",
    description_en="The city's booking web site (phone and desktop) and the hospitals' kiosk mode, at /c/{city}/.",
    settings=Settings, author="guahao",
)
