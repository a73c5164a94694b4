"""The sample messages in docs/his-hl7v2.md are the code's own output, byte for byte."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from guahao.plugins.his.hl7v2 import messages as m

from .test_messages import AT, BOOKING, HEADER, TZ

DOC = Path(__file__).resolve().parents[3] / "docs" / "his-hl7v2.md"
HIS = m.Header("HIS", "H001", "GUAHAO", "hz")


def samples() -> dict[str, str]:
    """Each documented message, built from the test booking at a fixed time."""
    def siu(event: str, key: str, **kw) -> str:
        return m.siu(event, BOOKING, header=HEADER, tz=TZ, at=AT,
                     message_id=m.control_id("hz", BOOKING["id"], event, key), **kw)

    s12 = siu("S12", "book")
    moved = dict(BOOKING, date="2026-03-17", start="13:00", end="13:30")
    s13 = m.siu("S13", moved, header=HEADER, tz=TZ, at=AT, message_id=m.control_id("hz", BOOKING["id"], "S13", "m"),
                reason="rescheduled", filler_id="HIS000001", notes=["改约，原时间 2026-03-10 08:00-08:30 王^医生"])
    start = AT + timedelta(days=1)
    return {
        "S12": s12,
        "ACK AA": m.ack_for(m.parse(s12), "AA", "预约已登记", at=AT,
                            extra=[m.segment("SCH", [BOOKING["id"], "GUAHAO"], ["HIS000001", "HIS"])]),
        "ACK AE": m.ack_for(m.parse(s12), "AE", "HIS 数据库忙，请稍后重试", at=AT),
        "ACK AR": m.ack_for(m.parse(s12), "AR", "患者信息不符，拒绝预约", at=AT),
        "S13": s13,
        "S14": siu("S14", "pay:4200001", reason="payment", filler_id="HIS000001",
                   payment={"kind": "registration", "provider": "wechatpay", "reference": "4200001", "amount_fen": 2500}),
        "S15": siu("S15", "cancel", reason="member_cancelled", filler_id="HIS000001"),
        "ADT^A04": m.adt_a04(HIS, message_id="HIS00000007", at=AT, booking_id=BOOKING["id"], visit_number="V000123",
                             filler_id="HIS000001"),
        "S23": m.siu_block("S23", HIS, message_id="HIS00000008", at=AT, doctor_code="D3", department_code="03.01",
                           start=start, end=start + timedelta(hours=4), reason="医生外出会诊", filler_id="SESS-D3-2026031108"),
    }


def test_the_documented_samples_are_what_the_code_builds():
    text = DOC.read_text(encoding="utf-8")
    for name, er7 in samples().items():
        assert er7.replace("\r", "\n") in text, f"the {name} sample in {DOC.name} is not what the code builds"
