"""The declaration of the FHIR R4 HIS adapter: metadata and settings.

Each hospital runs its own FHIR server, so every setting may also be set per hospital
(``hospital_settings``); what a hospital leaves empty comes from the city's values.
"""

from __future__ import annotations

from typing import Literal

from guahao.plugin_api import PluginMeta, PluginSettings, setting

SID = "https://guahao.org/fhir/sid"
ID_NUMBER_SYSTEM = "urn:oid:2.16.156.10011.1.3"  # 居民身份证号 (resident identity card number of China)
DEFAULT_SCOPE = ("system/Schedule.read system/Slot.read system/Practitioner.read system/HealthcareService.read "
                 "system/Location.read system/Patient.read system/Appointment.read system/Appointment.write "
                 "system/Encounter.read")

Auth = Literal["none", "bearer", "smart"]
Alg = Literal["RS384", "ES384"]
Pool = Literal["public", "onsite", "clinic", "referral"]
Identity = Literal["full_id", "masked_id"]

_URL = r"^(https?://[^\s?#]+)?$"
_SYSTEM = r"^\S*$"


def _system(default: str, label: str, label_en: str, help: str, help_en: str):
    return setting(default, label=label, label_en=label_en, pattern=_SYSTEM, max_length=200, help=help, help_en=help_en)


class Settings(PluginSettings):
    base_url: str = setting("", label="FHIR 服务地址", label_en="FHIR base URL", pattern=_URL,
                            example="https://his.example-hospital.cn/fhir/R4",
                            help="医院 FHIR R4 服务的基地址（metadata 所在的路径之前）；通常按医院设置。",
                            help_en="The base of the hospital's FHIR R4 server (where [base]/metadata is); "
                                    "usually set per hospital.")
    auth: Auth = setting("none", label="认证方式", label_en="Authentication",
                         help="none：不认证；bearer：固定令牌；smart：SMART Backend Services（签名 JWT 换取访问令牌）。",
                         help_en="none; bearer: a fixed token; smart: SMART Backend Services (a signed JWT "
                                 "assertion exchanged for an access token).")
    token: str = setting("", secret=True, label="访问令牌（bearer）", label_en="Bearer token",
                         help="auth=bearer 时每个请求携带的令牌。", help_en="Sent with every request when auth=bearer.")
    client_id: str = setting("", label="客户端 ID（SMART）", label_en="Client id (SMART)", max_length=200,
                             help="医院为本平台登记的 client_id。", help_en="The client_id the hospital registered for us.")
    private_key: str = setting("", secret=True, label="签名私钥（SMART，PEM）", label_en="Signing private key (SMART, PEM)",
                               widget="textarea",
                               help="RS384 用 RSA 私钥，ES384 用 P-384 EC 私钥；公钥（JWKS）交给医院登记。",
                               help_en="An RSA key for RS384, a P-384 EC key for ES384; the hospital registers "
                                       "the public key (JWKS).")
    key_id: str = setting("", label="密钥 ID（kid）", label_en="Key id (kid)", max_length=200,
                          help="JWT 头中的 kid，须与医院登记的 JWKS 中的一致。",
                          help_en="The kid of the JWT header, as in the JWKS the hospital registered.")
    jwt_alg: Alg = setting("RS384", label="签名算法", label_en="Signing algorithm")
    scope: str = setting(DEFAULT_SCOPE, label="申请的权限（scope）", label_en="Scopes requested", max_length=1000,
                         help="换取访问令牌时申请的 SMART system 权限。", help_en="SMART system scopes asked for.")
    timeout: float = setting(10.0, label="超时（秒）", label_en="Timeout (seconds)", gt=0, le=60,
                             help="等待 FHIR 服务应答的最长时间。", help_en="How long to wait for the FHIR server.")
    page_size: int = setting(100, label="每页条数（_count）", label_en="Page size (_count)", ge=1, le=1000)
    pool: Pool = setting("public", label="号源池", label_en="Registration pool",
                         help="HIS 发布的号源进入平台的哪个号池。", help_en="The platform pool the HIS's slots fill.")
    schedules_complete: bool = setting(
        False, label="排班为全量", label_en="Schedules are complete",
        help="打开后，HIS 曾发布、现在不再列出的出诊按停诊处理。",
        help_en="A session the server published before and no longer lists is suspended.")
    use_encounters: bool = setting(True, label="读取就诊记录（Encounter）", label_en="Read Encounters",
                                   help="除预约状态外，也用 Encounter 判断签到与就诊。",
                                   help_en="Besides the Appointment's status, Encounters tell check-ins and visits.")
    patient_identity: Identity = setting(
        "full_id", label="患者身份证号", label_en="Patient ID number",
        help="full_id：完整身份证号（系统 urn:oid:2.16.156.10011.1.3）；masked_id：脱敏号码（本平台的系统）。",
        help_en="full_id: the full ID number (system urn:oid:2.16.156.10011.1.3); masked_id: the masked "
                "number (our own system).")
    booking_system: str = _system(f"{SID}/booking", "预约号标识系统", "Booking identifier system",
                                  "Appointment.identifier 中本平台预约号的 system。",
                                  "The system of our booking id in Appointment.identifier.")
    doctor_system: str = _system(f"{SID}/doctor", "医生编号标识系统", "Doctor identifier system",
                                 "Practitioner.identifier 中平台医生编号的 system（无此标识时按姓名对应）。",
                                 "The system of the platform's doctor number in Practitioner.identifier "
                                 "(without one, doctors are matched by name).")
    department_system: str = _system(f"{SID}/department", "科室代码标识系统", "Department identifier system",
                                     "HealthcareService.identifier 中科室代码的 system。",
                                     "The system of the department code in HealthcareService.identifier.")
    campus_system: str = _system(f"{SID}/campus", "院区标识系统", "Campus identifier system",
                                 "Location.identifier 中院区编号的 system（无此标识时按名称对应）。",
                                 "The system of the campus number in Location.identifier (else by name).")


class HospitalSettings(PluginSettings):
    base_url: str | None = setting(None, label="FHIR 服务地址", label_en="FHIR base URL", pattern=_URL,
                                   example="https://his.example-hospital.cn/fhir/R4")
    auth: Auth | None = setting(None, label="认证方式", label_en="Authentication")
    token: str | None = setting(None, secret=True, label="访问令牌（bearer）", label_en="Bearer token")
    client_id: str | None = setting(None, label="客户端 ID（SMART）", label_en="Client id (SMART)", max_length=200)
    private_key: str | None = setting(None, secret=True, label="签名私钥（SMART，PEM）",
                                      label_en="Signing private key (SMART, PEM)", widget="textarea")
    key_id: str | None = setting(None, label="密钥 ID（kid）", label_en="Key id (kid)", max_length=200)
    jwt_alg: Alg | None = setting(None, label="签名算法", label_en="Signing algorithm")
    scope: str | None = setting(None, label="申请的权限（scope）", label_en="Scopes requested", max_length=1000)
    timeout: float | None = setting(None, label="超时（秒）", label_en="Timeout (seconds)", gt=0, le=60)
    page_size: int | None = setting(None, label="每页条数（_count）", label_en="Page size (_count)", ge=1, le=1000)
    pool: Pool | None = setting(None, label="号源池", label_en="Registration pool")
    schedules_complete: bool | None = setting(None, label="排班为全量", label_en="Schedules are complete")
    use_encounters: bool | None = setting(None, label="读取就诊记录（Encounter）", label_en="Read Encounters")
    patient_identity: Identity | None = setting(None, label="患者身份证号", label_en="Patient ID number")
    booking_system: str | None = setting(None, label="预约号标识系统", label_en="Booking identifier system",
                                         pattern=_SYSTEM, max_length=200)
    doctor_system: str | None = setting(None, label="医生编号标识系统", label_en="Doctor identifier system",
                                        pattern=_SYSTEM, max_length=200)
    department_system: str | None = setting(None, label="科室代码标识系统", label_en="Department identifier system",
                                            pattern=_SYSTEM, max_length=200)
    campus_system: str | None = setting(None, label="院区标识系统", label_en="Campus identifier system",
                                        pattern=_SYSTEM, max_length=200)


META = PluginMeta(
    name="fhir", verbose_name="FHIR R4 医院接口", verbose_name_en="FHIR R4 HIS", category="his",
    version="1.0.0", compatibility=">=1.1,<2",
    description="作为客户端连接医院自己的 FHIR R4 服务：读取排班（Schedule/Slot），创建、改约与取消预约"
                "（Appointment），读取签到、就诊与爽约（Appointment/Encounter）；支持固定令牌与 SMART Backend Services 认证。",
    description_en="A client of the hospital's own FHIR R4 server: reads schedules (Schedule/Slot), creates, moves "
                   "and cancels Appointments, reads check-ins, visits and no-shows (Appointment/Encounter); bearer "
                   "token or SMART Backend Services authentication.",
    settings=Settings, hospital_settings=HospitalSettings, author="guahao",
)
