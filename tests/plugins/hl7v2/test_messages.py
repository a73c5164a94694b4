"""Every message type the adapter builds parses back with python-hl7 to the fields PROTOCOLS §5 names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from guahao.plugins.his.hl7v2 import messages as m

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 10, 0, 30, tzinfo=UTC)
HEADER = m.Header("GUAHAO", "hz", "HIS", "H001")
BOOKING = {
    "id": "7K4MQ9XT2B", "date": "2026-03-10", "start": "08:00", "end": "08:30", "doctor_id": 3,
    "doctor_name": "王^医生", "department_name": "呼吸内科", "channel": "web", "hospital_id": 1,
    "campus": {"id": 2, "name": "南院区", "address": "滨河大道 210 号"},
    "his": {"hospital_code": "H001", "department_code": "03.01", "doctor_code": "D3", "campus_code": "2"},
    "patient": {"member_id": 5, "name": "李四", "sex": "M", "birth_date": "1990-01-02",
                "id_number_masked": "3301**********1234", "id_number": "330102199001021234", "card_no": "C778"},
}


def build(event: str, **kw) -> str:
    return m.siu(event, BOOKING, header=HEADER, tz=TZ, at=AT, message_id=f"MSG-{event}", **kw)


@pytest.mark.parametrize(("event", "status", "action"), [
    ("S12", "Booked", "A"), ("S13", "Booked", "U"), ("S14", "Booked", "U"), ("S15", "Cancelled", "D"),
    ("S26", "Noshow", "U"),
])
def test_siu_messages_carry_the_booking(event, status, action):
    text = build(event, filler_id="HIS000001" if event != "S12" else "")
    assert "\n" not in text and text.count("\r") == 7
    msg = m.parse(text)
    assert [str(s[0]) for s in msg] == ["MSH", "SCH", "TQ1", "PID", "RGS", "AIS", "AIL", "AIP"]
    assert m.value(msg, "MSH.F3") == "GUAHAO" and m.value(msg, "MSH.F4") == "hz"
    assert m.value(msg, "MSH.F5") == "HIS" and m.value(msg, "MSH.F6") == "H001"
    assert str(msg.segment("MSH")[9]) == f"SIU^{event}^SIU_S12" and m.value(msg, "MSH.F10") == f"MSG-{event}"
    assert m.value(msg, "MSH.F12") == "2.5" and m.value(msg, "MSH.F18") == "UNICODE UTF-8"
    assert m.value(msg, "SCH.F1.R1.C1") == "7K4MQ9XT2B" and m.value(msg, "SCH.F1.R1.C2") == "GUAHAO"
    assert m.value(msg, "SCH.F2.R1.C1") == ("" if event == "S12" else "HIS000001")
    assert m.value(msg, "SCH.F9") == "30" and m.value(msg, "SCH.F10") == "min"
    assert m.value(msg, "SCH.F11.R1.C4") == "20260310080000+0800" and m.value(msg, "SCH.F11.R1.C5") == "20260310083000+0800"
    assert m.value(msg, "SCH.F20") == "web" and m.value(msg, "SCH.F25") == status
    assert m.value(msg, "TQ1.F7") == "20260310080000+0800" and m.value(msg, "TQ1.F8") == "20260310083000+0800"
    assert m.value(msg, "RGS.F1") == "1" and m.value(msg, "RGS.F2") == action
    assert m.value(msg, "AIS.F3.R1.C1") == "OPREG" and m.value(msg, "AIS.F4") == "20260310080000+0800"
    assert m.value(msg, "AIL.F3.R1.C1") == "03.01" and m.value(msg, "AIL.F3.R1.C4") == "H001"
    assert m.value(msg, "AIL.F3.R1.C7") == "2" and m.value(msg, "AIL.F3.R1.C9") == "南院区 呼吸内科"
    assert m.value(msg, "AIP.F3.R1.C1") == "D3" and m.value(msg, "AIP.F3.R1.C2") == "王^医生"  # escaped \S\ and back
    assert "王\\S\\医生" in text
    assert m.value(msg, "PID.F5") == "李四" and m.value(msg, "PID.F7") == "19900102" and m.value(msg, "PID.F8") == "M"
    assert m.parse_ts(m.value(msg, "TQ1.F7")) == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("identity", "first", "kind"), [
    ("masked_id", "3301**********1234", "MID"), ("full_id", "330102199001021234", "NNCHN"), ("card_no", "C778", "MC"),
])
def test_patient_identity_follows_the_setting(identity, first, kind):
    msg = m.parse(build("S12", identity=identity))
    assert m.value(msg, "PID.F3.R1.C1") == first and m.value(msg, "PID.F3.R1.C5") == kind
    assert m.value(msg, "PID.F3.R2.C1") == "5" and m.value(msg, "PID.F3.R2.C4") == "GUAHAO"
    if identity != "full_id":
        assert "330102199001021234" not in str(msg)


def test_payment_and_refund_go_in_zpm_with_a_note():
    msg = m.parse(build("S14", payment={"kind": "registration", "provider": "wechatpay", "reference": "4200001",
                                        "amount_fen": 2500}))
    assert [str(s[0]) for s in msg][3:5] == ["NTE", "ZPM"]
    assert [m.value(msg, f"ZPM.F{i}") for i in range(1, 8)] == ["1", "PAY", "registration", "wechatpay", "4200001",
                                                                "2500", "CNY"]
    assert m.value(msg, "NTE.F3") == "已支付 25.00 元（wechatpay 4200001）"
    refund = m.parse(build("S14", payment={"provider": "wechatpay", "reference": "R9", "amount_fen": 2500,
                                           "refund": True}))
    assert m.value(refund, "ZPM.F2") == "REF" and m.value(refund, "NTE.F3").startswith("已退款 25.00 元")


def test_acks_swap_the_header_and_answer_the_control_id():
    msg = m.parse(build("S12"))
    ack = m.parse(m.ack_for(msg, "AE", "HIS 忙", at=AT, extra=[m.segment("SCH", ["7K4MQ9XT2B", "GUAHAO"], ["F1", "HIS"])]))
    assert m.value(ack, "MSH.F3") == "HIS" and m.value(ack, "MSH.F4") == "H001" and m.value(ack, "MSH.F5") == "GUAHAO"
    assert str(ack.segment("MSH")[9]) == "ACK^S12^ACK"
    assert m.read_ack(ack) == m.Ack("AE", "MSG-S12", "HIS 忙", "F1")
    plain = m.parse("MSH|^~\\&|HIS|HOSP|APP|HOSP|20250310083001||ACK^S12^ACK|ACK0001|P|2.5\rMSA|AA|MSG0001")
    assert m.read_ack(plain) == m.Ack("AA", "MSG0001", "", "")
    with pytest.raises(ValueError):
        m.read_ack(msg)


def test_inbound_messages_parse_back():
    his = m.Header("HIS", "H001", "GUAHAO", "hz")
    adt = m.parse(m.adt_a04(his, message_id="A1", at=AT, booking_id="7K4MQ9XT2B", visit_number="V7", filler_id="F1"))
    assert str(adt.segment("MSH")[9]) == "ADT^A04^ADT_A01" and m.value(adt, "EVN.F2") == "20260310003000+0000"
    assert (m.value(adt, "PV1.F5.R1.C1"), m.value(adt, "PV1.F19"), m.value(adt, "PV1.F50")) == ("7K4MQ9XT2B", "V7", "F1")
    start, end = datetime(2026, 3, 11, 0, tzinfo=UTC), datetime(2026, 3, 11, 4, tzinfo=UTC)
    block = m.parse(m.siu_block("S23", his, message_id="B1", at=AT, doctor_code="D3", department_code="03.01",
                                start=start, end=end, reason="医生外出会诊", filler_id="S1"))
    assert str(block.segment("MSH")[9]) == "SIU^S23^SIU_S12" and m.value(block, "SCH.F25") == "Blocked"
    assert m.value(block, "SCH.F6.R1.C2") == "医生外出会诊" and m.value(block, "AIP.F3.R1.C1") == "D3"
    assert m.parse_ts(m.value(block, "SCH.F11.R1.C4")) == start and m.value(block, "AIL.F3.R1.C1") == "03.01"
    noshow = m.parse(m.siu_no_show(his, message_id="N1", at=AT, booking_id="7K4MQ9XT2B"))
    assert m.value(noshow, "SCH.F1.R1.C1") == "7K4MQ9XT2B" and m.value(noshow, "SCH.F25") == "Noshow"


def test_text_is_escaped_for_delimiters_only():
    assert m.escape("a|b^c&d~e\\f 中文") == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f 中文"
    assert m.control_id("hz", "B1", "S12", "book") == m.control_id("hz", "B1", "S12", "book") != m.control_id(
        "hz", "B1", "S15", "cancel")
