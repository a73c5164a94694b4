"""The declaration of the HL7 v2 (MLLP) HIS adapter: metadata and settings.

Each hospital has its own HIS, so every setting may also be set per hospital
(``hospital_settings``); what a hospital leaves empty comes from the city's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from guahao.plugin_api import PluginMeta, PluginSettings, setting

IDENTITIES = ("masked_id", "full_id", "card_no")
Identity = Literal["masked_id", "full_id", "card_no"]

_HOST = r"^[A-Za-z0-9.\-:\[\]]*$"
_NAME = r"^[^|^~\\&\r\n]*$"  # an HL7 HD component: no delimiters


class Settings(PluginSettings):
    host: str = setting("", label="HIS MLLP 地址", label_en="HIS MLLP host", pattern=_HOST, example="10.1.2.3",
                        help="医院 HIS 接收 HL7 消息的主机名或 IP；通常按医院设置。",
                        help_en="Host name or address of the hospital's MLLP listener; usually set per hospital.")
    port: int = setting(2575, label="HIS MLLP 端口", label_en="HIS MLLP port", ge=1, le=65535,
                        help="医院 HIS 的 MLLP 端口（常用 2575）。", help_en="Port of the hospital's MLLP listener (often 2575).")
    sending_application: str = setting("GUAHAO", label="发送应用（MSH-3）", label_en="Sending application (MSH-3)",
                                       pattern=_NAME, max_length=40)
    sending_facility: str = setting("", label="发送机构（MSH-4）", label_en="Sending facility (MSH-4)",
                                    pattern=_NAME, max_length=40,
                                    help="留空时为城市代码。", help_en="Empty: the city's slug.")
    receiving_application: str = setting("HIS", label="接收应用（MSH-5）", label_en="Receiving application (MSH-5)",
                                         pattern=_NAME, max_length=40)
    receiving_facility: str = setting("", label="接收机构（MSH-6）", label_en="Receiving facility (MSH-6)",
                                      pattern=_NAME, max_length=40,
                                      help="留空时为医院代码。", help_en="Empty: the hospital's code.")
    timeout: float = setting(10.0, label="超时（秒）", label_en="Timeout (seconds)", gt=0, le=60,
                             help="等待 HIS 返回 ACK 的最长时间。", help_en="How long to wait for the HIS's ACK.")
    patient_identity: Identity = setting(
        "masked_id", label="患者身份标识（PID-3）", label_en="Patient identity (PID-3)",
        help="masked_id：脱敏身份证号；full_id：完整身份证号；card_no：诊疗卡号（无卡时用脱敏身份证号）。",
        help_en="masked_id: the masked ID number; full_id: the full ID number; card_no: the hospital card "
                "number (the masked ID number when the patient has none).")
    listen_port: int = setting(0, label="接收端口（本平台）", label_en="Inbound listener port", ge=0, le=65535,
                               help="guahao worker 在此端口接收 HIS 发来的 ADT^A04 签到与 SIU 排班消息；0 为不接收。",
                               help_en="guahao worker listens here for ADT^A04 check-ins and SIU schedule "
                                       "messages from the HIS; 0 = off.")
    listen_host: str = setting("0.0.0.0", label="接收地址", label_en="Inbound listener address", pattern=_HOST,
                               help="接收端口绑定的地址。", help_en="Address the inbound listener binds to.")
    slot_minutes: int = setting(30, label="号源时段长度（分钟）", label_en="Slot length (minutes)", ge=5, le=240,
                                help="HIS 以 SIU^S24 开放时段时，每个预约时段的长度。",
                                help_en="Length of each bookable period when the HIS opens time with SIU^S24.")
    slot_capacity: int = setting(0, label="每时段号源数", label_en="Places per slot", ge=0, le=500,
                                 help="SIU^S24 开放的时段里每段的网上号源数；0 表示 S24 只恢复已有出诊，不新建。",
                                 help_en="Online places per period of the time an SIU^S24 opens; 0: an S24 only "
                                         "reopens an existing session and creates none.")
    simulator: bool = setting(False, label="模拟 HIS（演示）", label_en="Practice HIS (demo)",
                              help="仅用于演示和试用：未设置 HIS 地址的医院由平台进程内的模拟 HIS 应答，"
                                   "当天的预约在被接收后不久自动签到。生产环境中不运行。",
                              help_en="Demo and trials only: hospitals with no HIS address are answered by a "
                                      "simulated HIS inside the platform's process, which checks in the day's "
                                      "bookings shortly after accepting them. Never runs in production.")


class HospitalSettings(PluginSettings):
    host: str | None = setting(None, label="HIS MLLP 地址", label_en="HIS MLLP host", pattern=_HOST, example="10.1.2.3")
    port: int | None = setting(None, label="HIS MLLP 端口", label_en="HIS MLLP port", ge=1, le=65535)
    sending_application: str | None = setting(None, label="发送应用（MSH-3）", label_en="Sending application (MSH-3)",
                                              pattern=_NAME, max_length=40)
    sending_facility: str | None = setting(None, label="发送机构（MSH-4）", label_en="Sending facility (MSH-4)",
                                           pattern=_NAME, max_length=40)
    receiving_application: str | None = setting(None, label="接收应用（MSH-5）",
                                                label_en="Receiving application (MSH-5)", pattern=_NAME, max_length=40)
    receiving_facility: str | None = setting(None, label="接收机构（MSH-6）", label_en="Receiving facility (MSH-6)",
                                             pattern=_NAME, max_length=40)
    timeout: float | None = setting(None, label="超时（秒）", label_en="Timeout (seconds)", gt=0, le=60)
    patient_identity: Identity | None = setting(None, label="患者身份标识（PID-3）",
                                                label_en="Patient identity (PID-3)")
    slot_minutes: int | None = setting(None, label="号源时段长度（分钟）", label_en="Slot length (minutes)", ge=5, le=240)
    slot_capacity: int | None = setting(None, label="每时段号源数", label_en="Places per slot", ge=0, le=500)
    listen_port: int | None = setting(None, label="接收端口（本平台）", label_en="Inbound listener port", ge=0, le=65535,
                                      help="本院 HIS 发来消息的端口；每家医院一个端口。",
                                      help_en="The port this hospital's HIS sends to; one port per hospital.")
    listen_host: str | None = setting(None, label="接收地址", label_en="Inbound listener address", pattern=_HOST)


META = PluginMeta(
    name="hl7v2", verbose_name="HL7 v2 医院接口（MLLP）", verbose_name_en="HL7 v2 HIS (MLLP)", category="his",
    version="1.0.0", compatibility=">=1.1,<2",
    description="以 HL7 v2.5 SIU 消息经 MLLP 向医院 HIS 推送预约、改约、支付与取消，"
                "并接收签到（ADT^A04）与停诊/复诊（SIU S23/S24）。",
    description_en="Pushes bookings, moves, payments and cancellations to the hospital's HIS as HL7 v2.5 SIU "
                   "messages over MLLP; receives check-ins (ADT^A04) and blocked/unblocked sessions (SIU S23/S24).",
    settings=Settings, hospital_settings=HospitalSettings, migrations=Path(__file__).parent / "migrations",
    author="guahao",
)
