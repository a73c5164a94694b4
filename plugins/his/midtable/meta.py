"""The declaration of the intermediate-table (中间表) HIS adapter: metadata and settings.

Each hospital has its own HIS database, so every setting may also be set per hospital
(``hospital_settings``); what a hospital leaves empty comes from the city's values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from guahao.plugin_api import PluginMeta, PluginSettings, setting

Identity = Literal["masked_id", "full_id"]

# A SQLAlchemy URL with a user but no password (the password is a secret of its own).
URL_PATTERN = r"^([A-Za-z][A-Za-z0-9+_]*://([^:@/\s]+@)?[^@\s]*)?$"
PREFIX_PATTERN = r"^[A-Za-z0-9_]{0,30}$"

_URL_HELP = ("医院中间库的 SQLAlchemy 地址（异步驱动，不含密码），如 mysql+aiomysql://guahao@10.1.2.3:3306/hisdb；"
             "密码请作为密钥单独保存。")
_URL_HELP_EN = ("SQLAlchemy URL of the hospital's intermediate database (an async driver, no password), e.g. "
                "mysql+aiomysql://guahao@10.1.2.3:3306/hisdb; store the password as a secret of its own.")


class Settings(PluginSettings):
    url: str = setting("", label="中间库地址", label_en="Database URL", pattern=URL_PATTERN,
                       example="mysql+aiomysql://guahao@10.1.2.3:3306/hisdb", help=_URL_HELP, help_en=_URL_HELP_EN)
    password: str = setting("", secret=True, label="中间库密码", label_en="Database password", max_length=200,
                            help="连接中间库的密码（加密保存）。", help_en="Password of the database account (stored encrypted).")
    table_prefix: str = setting("mt_", label="表名前缀", label_en="Table name prefix", pattern=PREFIX_PATTERN,
                                help="中间表名的前缀（默认 mt_：mt_schedule、mt_request …）。",
                                help_en="Prefix of the table names (default mt_: mt_schedule, mt_request …).")
    patient_identity: Identity = setting(
        "masked_id", label="患者身份证号写法", label_en="Patient ID number",
        help="masked_id：写入脱敏身份证号；full_id：写入完整身份证号（需医院与平台书面约定）。",
        help_en="masked_id: the masked ID number; full_id: the full number (only when agreed in writing).")
    timeout: float = setting(5.0, label="连接超时（秒）", label_en="Connect timeout (seconds)", gt=0, le=60,
                             help="连接中间库的最长等待时间。", help_en="How long to wait for a connection.")
    ack_wait: float = setting(3.0, label="等待受理（秒）", label_en="Wait for the HIS (seconds)", ge=0, le=30,
                              help="写入请求后等待 HIS 回写受理结果的时间；未回写则稍后重试查看（不会重复写入）。",
                              help_en="How long a push waits for the HIS to mark its row; unmarked rows are "
                                      "looked at again later (never written twice).")
    gap_hours: int = setting(24, label="版本空洞等待（小时）", label_en="Version gap wait (hours)", ge=1, le=720,
                             help="读取时跳过的行版本（尚未提交的事务）在此时间内每次都会再查一次。",
                             help_en="Row versions skipped while reading (transactions not yet committed) are "
                                     "looked for again on every read for this long.")
    visits_complete: bool = setting(False, label="就诊状态完整", label_en="Visit list is complete",
                                    help="HIS 对每个到诊患者都写签到：时段结束仍无记录的预约按爽约处理。",
                                    help_en="The HIS records every visit: a booking with no row once its period "
                                            "is over counts as a no-show.")


class HospitalSettings(PluginSettings):
    url: str | None = setting(None, label="中间库地址", label_en="Database URL", pattern=URL_PATTERN,
                              example="mysql+aiomysql://guahao@10.1.2.3:3306/hisdb", help=_URL_HELP, help_en=_URL_HELP_EN)
    password: str | None = setting(None, secret=True, label="中间库密码", label_en="Database password", max_length=200)
    table_prefix: str | None = setting(None, label="表名前缀", label_en="Table name prefix", pattern=PREFIX_PATTERN)
    patient_identity: Identity | None = setting(None, label="患者身份证号写法", label_en="Patient ID number")
    timeout: float | None = setting(None, label="连接超时（秒）", label_en="Connect timeout (seconds)", gt=0, le=60)
    ack_wait: float | None = setting(None, label="等待受理（秒）", label_en="Wait for the HIS (seconds)", ge=0, le=30)
    gap_hours: int | None = setting(None, label="版本空洞等待（小时）", label_en="Version gap wait (hours)", ge=1, le=720)
    visits_complete: bool | None = setting(None, label="就诊状态完整", label_en="Visit list is complete")


META = PluginMeta(
    name="midtable", verbose_name="中间表 HIS 接口", verbose_name_en="Intermediate-table HIS", category="his",
    version="1.0.0", compatibility=">=1.1,<2",
    description="通过医院数据库中约定的中间表交换数据：读取出诊号源、就诊状态与待缴费项目，"
                "写入预约、取消、改约、缴费与退费请求并读取 HIS 的受理结果。",
    description_en="Exchanges data through agreed tables in a database the hospital owns: reads schedules, "
                   "visit statuses and fee items; writes bookings, cancellations, moves, payments and refunds "
                   "and reads the HIS's answer.",
    settings=Settings, hospital_settings=HospitalSettings, migrations=Path(__file__).parent / "migrations",
    author="guahao",
)
