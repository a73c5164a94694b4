"""HL7 v2.5 messages of the adapter, as ER7 text (segments separated by ``\\r``).

Outbound: SIU^S12 (new booking), S13 (moved), S14 (payment or refund, ``NTE`` + ``ZPM``),
S15 (cancelled), S26 (no-show), each ``MSH, SCH, TQ1, [NTE], [ZPM], PID, RGS, AIS, AIL, AIP``
filled from the booking view; ACKs for what we receive. Inbound text is parsed with
python-hl7 (``hl7.parse``); every message we build parses back to the same fields.

Text values are escaped for the HL7 delimiters only (``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\``): names
stay UTF-8 Chinese (MSH-18 ``UNICODE UTF-8``), not ``\\X..\\`` hex escapes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo

import hl7

VERSION = "2.5"
CHARSET = "UNICODE UTF-8"
NAMESPACE = "GUAHAO"  # assigning authority of our ids (SCH-1, PID-3)

EVENTS = {"book": "S12", "move": "S13", "payment": "S14", "refund": "S14", "cancel": "S15", "no_show": "S26"}
# SCH-25 filler status (HL7 table 0278) and RGS/AIS/AIL/AIP-2 segment action (table 0206).
FILLER_STATUS = {"S12": "Booked", "S13": "Booked", "S14": "Booked", "S15": "Cancelled", "S26": "Noshow"}
ACTION_CODE = {"S12": "A", "S13": "U", "S14": "U", "S15": "D", "S26": "U"}

Field = str | Sequence[str]  # one value, or its components


def escape(text: object) -> str:
    """``text`` with the HL7 delimiters escaped; line breaks become spaces."""
    out = str(text if text is not None else "")
    out = out.replace("\\", "\\E\\")
    for char, code in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        out = out.replace(char, code)
    return out.replace("\r", " ").replace("\n", " ")


class Raw(str):
    """A field value already in ER7 form (components, repetitions): written as it is."""


def field(value: Field) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, str):
        return escape(value)
    return "^".join(escape(c) for c in value).rstrip("^")


def segment(name: str, *fields: Field) -> str:
    """One segment: ``name|f1|f2…`` with trailing empty fields dropped."""
    return "|".join([name, *(field(f) for f in fields)]).rstrip("|")


def msh(header: "Header", message_type: str, control_id: str, at: datetime) -> str:
    # MSH-1 is the field separator itself and MSH-2 the encoding characters: written raw.
    rest = [header.sending_application, header.sending_facility, header.receiving_application,
            header.receiving_facility, ts(at), "", Raw(message_type), control_id, "P", VERSION, "", "", "AL", "NE", "",
            CHARSET]
    return "MSH|^~\\&|" + "|".join(field(f) for f in rest)


def ts(value: datetime) -> str:
    """An HL7 TS with its UTC offset: ``20250310080000+0800``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.strftime("%Y%m%d%H%M%S%z")


def parse_ts(text: str, tz: ZoneInfo | None = None) -> datetime | None:
    """An HL7 TS (``YYYYMMDD[HHMM[SS]][+zzzz]``) as an aware datetime (``tz`` when it has no
    offset); ``None`` when empty or malformed."""
    text = (text or "").strip()
    offset = None
    for sign in ("+", "-"):
        if sign in text[8:]:
            text, _, off = text.partition(sign) if sign == "+" else text.rpartition(sign)
            if len(off) == 4 and off.isdigit():
                delta = timedelta(hours=int(off[:2]), minutes=int(off[2:]))
                offset = delta if sign == "+" else -delta
            break
    text = text.split(".")[0]
    for fmt in ("%Y%m%d%H%M%S", "%Y%m%d%H%M", "%Y%m%d"):
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if offset is not None:
            from datetime import timezone

            return naive.replace(tzinfo=timezone(offset))
        return naive.replace(tzinfo=tz or UTC)
    return None


def control_id(*parts: object) -> str:
    """A message control id (MSH-10) derived from what the message is about: the same push sent
    again carries the same id, so a HIS that dedupes on MSH-10 sees a repeat."""
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:20].upper()


@dataclass(frozen=True)
class Header:
    """MSH-3..6 of our messages (their ACKs swap them)."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str

    @classmethod
    def from_settings(cls, settings: Mapping, *, city_slug: str, hospital_code: str) -> "Header":
        return cls(
            str(settings.get("sending_application") or "GUAHAO"),
            str(settings.get("sending_facility") or city_slug),
            str(settings.get("receiving_application") or "HIS"),
            str(settings.get("receiving_facility") or hospital_code),
        )


# --- SIU ------------------------------------------------------------------------------------


def _local(booking: Mapping, which: str, tz: ZoneInfo) -> datetime:
    day = date.fromisoformat(str(booking["date"]))
    hh, mm = str(booking[which]).split(":")[:2]
    return datetime.combine(day, time(int(hh), int(mm)), tzinfo=tz)


def patient_ids(patient: Mapping, identity: str, facility: str) -> list[str]:
    """PID-3 repetitions: the chosen identity first, then our member number (``PI``).

    ``masked_id``: the masked ID number (type ``NNCHN`` is not claimed for it: ``MID``);
    ``full_id``: the ID number (``NNCHN``, national id of China); ``card_no``: the hospital's
    card (``MC``), the masked ID number when the patient has no card.
    """
    masked = str(patient.get("id_number_masked") or "")
    first: list[str]
    if identity == "full_id" and patient.get("id_number"):
        first = [str(patient["id_number"]), "", "", "CHN", "NNCHN"]
    elif identity == "card_no" and patient.get("card_no"):
        first = [str(patient["card_no"]), "", "", facility, "MC"]
    else:
        first = [masked, "", "", "CHN", "MID"]
    ids = ["^".join(escape(c) for c in first).rstrip("^")]
    if patient.get("member_id"):
        ids.append(f"{patient['member_id']}^^^{NAMESPACE}^PI")
    return ids


def siu(
    event: str,
    booking: Mapping,
    *,
    header: Header,
    tz: ZoneInfo,
    identity: str = "masked_id",
    at: datetime,
    message_id: str,
    reason: str = "",
    filler_id: str = "",
    payment: Mapping | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The SIU^``event`` message of a booking view (ER7 text, segments joined by ``\\r``).

    ``booking`` is the view core passes to adapters, with ``his`` codes (hospital, department,
    doctor, campus) and ``patient`` (name, sex, birth date, identifiers) added by core.
    """
    codes: Mapping = booking.get("his") or {}
    patient: Mapping = booking.get("patient") or {}
    start, end = _local(booking, "start", tz), _local(booking, "end", tz)
    minutes = str(int((end - start).total_seconds() // 60))
    action = ACTION_CODE[event]
    placer = [str(booking["id"]), NAMESPACE]
    filler = [filler_id, header.receiving_application] if filler_id else ""
    campus: Mapping = booking.get("campus") or {}
    hospital_code = str(codes.get("hospital_code") or header.receiving_facility)
    place = f"{campus.get('name', '')} {booking.get('department_name', '')}".strip()
    segments = [
        msh(header, f"SIU^{event}^SIU_S12", message_id, at),
        segment("SCH", placer, filler, "", "", "", ["", reason] if reason else "",
                ["OUTPATIENT", "门诊挂号"], str(booking.get("registration_type") or ""), minutes, "min",
                ["", "", "", ts(start), ts(end)], "", "", "", "", "", "", "", "", str(booking.get("channel") or ""),
                "", "", "", "", FILLER_STATUS[event]),
        segment("TQ1", "1", "", "", "", "", "", ts(start), ts(end)),
    ]
    texts = [*notes, *([payment_note(payment)] if payment is not None else [])]
    segments += [segment("NTE", str(i), "P", t) for i, t in enumerate(texts, 1)]
    if payment is not None:
        segments.append(zpm(payment))
    segments += [
        segment("PID", "1", "", Raw("~".join(patient_ids(patient, identity, hospital_code))), "",
                str(patient.get("name") or ""), "", str(patient.get("birth_date") or "").replace("-", ""),
                str(patient.get("sex") or "U")),
        segment("RGS", "1", action),
        segment("AIS", "1", action, ["OPREG", "门诊挂号", NAMESPACE], ts(start), "", "", minutes, "min"),
        segment("AIL", "1", action,
                [str(codes.get("department_code") or ""), "", "", hospital_code, "", "C",
                 str(codes.get("campus_code") or ""), "", place],
                ["C", "门诊"], "", ts(start)),
        segment("AIP", "1", action, [str(codes.get("doctor_code") or booking.get("doctor_id") or ""),
                                     str(booking.get("doctor_name") or "")],
                ["D", "医生"], "", ts(start)),
    ]
    return "\r".join(segments)


def zpm(payment: Mapping) -> str:
    """S14's machine-readable payment detail:
    ``ZPM|1|<PAY or REF>|<kind>|<provider>|<reference>|<amount fen>|CNY|<item ids ~-separated>``"""
    items = "~".join(escape(i) for i in payment.get("items") or [])
    out = segment("ZPM", "1", "REF" if payment.get("refund") else "PAY", str(payment.get("kind") or "registration"),
                  str(payment.get("provider") or ""), str(payment.get("reference") or ""),
                  str(int(payment.get("amount_fen") or 0)), "CNY")
    return out + "|" * (8 - out.count("|")) + items if items else out


def payment_note(payment: Mapping) -> str:
    """The payment or refund in words, for the NTE people read."""
    words = "已退款" if payment.get("refund") else "已支付"
    amount = int(payment.get("amount_fen") or 0)
    return f"{words} {amount / 100:.2f} 元（{payment.get('provider') or ''} {payment.get('reference') or ''}）"


# --- ACK ------------------------------------------------------------------------------------


def ack_for(message: hl7.Message, code: str, text: str = "", *, at: datetime, extra: Sequence[str] = ()) -> str:
    """The ACK of a received message: MSH-3/4 and 5/6 swapped, ``ACK^<event>^ACK``, MSA-1
    ``code``, MSA-2 the original MSH-10, MSA-3 ``text``; ``extra`` segments after MSA."""
    def get(path: str) -> str:
        try:
            return str(message[path])
        except (IndexError, KeyError):
            return ""

    header = Header(get("MSH.F5"), get("MSH.F6"), get("MSH.F3"), get("MSH.F4"))
    original = get("MSH.F10")
    event = get("MSH.F9.R1.C2")
    lines = [msh(header, f"ACK^{event}^ACK", control_id("ACK", original, code, text), at),
             segment("MSA", code, original, text[:80]), *extra]
    return "\r".join(lines)


@dataclass(frozen=True)
class Ack:
    """What an ACK said: ``code`` (AA, AE, AR, or CA/CE/CR), the acknowledged control id,
    the text (MSA-3, else ERR-8 or ERR-3), and the filler id when the ACK carries an SCH."""

    code: str
    control_id: str
    text: str
    filler_id: str


def read_ack(message: hl7.Message) -> Ack:
    """Read an ACK; raises ``ValueError`` when it is not one."""
    if not _has(message, "MSA"):
        raise ValueError("not an ACK (no MSA segment)")
    msa = message.segment("MSA")

    def at(seg, i: int) -> str:
        return str(seg[i]) if len(seg) > i else ""

    text = unescape(message, at(msa, 3))
    if not text:
        for err in message.segments("ERR") if _has(message, "ERR") else []:
            text = unescape(message, at(err, 8) or str(err[3][0][1] if len(err) > 3 and len(err[3][0]) > 1 else ""))
            if text:
                break
    filler = ""
    if _has(message, "SCH"):
        sch = message.segment("SCH")
        filler = str(sch[2][0][0]) if len(sch) > 2 and str(sch[2]) else ""
    return Ack(at(msa, 1).upper(), at(msa, 2), text, filler)


def _has(message: hl7.Message, name: str) -> bool:
    return any(str(s[0]) == name for s in message)


def unescape(message: hl7.Message, text: str) -> str:
    return message.unescape(text) if "\\" in text else text


def value(message: hl7.Message, path: str) -> str:
    """``message[path]`` unescaped, ``""`` when absent (``SCH.F1.R1.C1`` …)."""
    try:
        return unescape(message, str(message[path]))
    except (IndexError, KeyError):
        return ""


def parse(text: str) -> hl7.Message:
    """Parse ER7 text (``\\r``, ``\\n`` or ``\\r\\n`` between segments)."""
    return hl7.parse(text.replace("\r\n", "\r").replace("\n", "\r").strip("\r"))


# --- what a HIS sends us (built by the simulator, read by the listener) ----------------------


def adt_a04(header: Header, *, message_id: str, at: datetime, booking_id: str = "", visit_number: str = "",
            filler_id: str = "", patient_name: str = "") -> str:
    """ADT^A04 (register a patient = check-in): EVN-2 when, PV1-5 our booking id (the placer
    appointment id, ``<id>^^^GUAHAO``), PV1-19 the HIS's visit number, PV1-50 the HIS's
    appointment id (SCH-2 of our booking's ACK)."""
    pv1 = ["PV1", "1", "O", "", "", Raw(f"{escape(booking_id)}^^^{NAMESPACE}") if booking_id else "",
           *[""] * 13, visit_number, *[""] * 30, filler_id]
    return "\r".join([
        msh(header, "ADT^A04^ADT_A01", message_id, at),
        segment("EVN", "A04", ts(at)),
        segment("PID", "1", "", "", "", patient_name),
        segment(*pv1),
    ])


def siu_block(event: str, header: Header, *, message_id: str, at: datetime, doctor_code: str, doctor_name: str = "",
              department_code: str = "", start: datetime, end: datetime, reason: str = "", filler_id: str = "") -> str:
    """SIU^S23 (a doctor's session blocked, 停诊) or S24 (unblocked): SCH-2 the HIS's id of
    the session, SCH-6 the reason, SCH-11 its time, AIP-3 the doctor, AIL-3 the department."""
    assert event in ("S23", "S24")
    status = "Blocked" if event == "S23" else "Booked"
    return "\r".join([
        msh(header, f"SIU^{event}^SIU_S12", message_id, at),
        segment("SCH", "", [filler_id, header.sending_application] if filler_id else "", "", "", "",
                ["", reason] if reason else "", "", "", "", "", ["", "", "", ts(start), ts(end)],
                *[""] * 13, status),
        segment("TQ1", "1", "", "", "", "", "", ts(start), ts(end)),
        segment("RGS", "1", "U"),
        segment("AIL", "1", "U", [department_code]),
        segment("AIP", "1", "U", [doctor_code, doctor_name], ["D", "医生"], "", ts(start)),
    ])


def siu_no_show(header: Header, *, message_id: str, at: datetime, booking_id: str, filler_id: str = "") -> str:
    """SIU^S26 from the HIS: the patient of our booking (SCH-1) did not come."""
    return "\r".join([
        msh(header, "SIU^S26^SIU_S12", message_id, at),
        segment("SCH", [booking_id, NAMESPACE], [filler_id, header.sending_application] if filler_id else "",
                *[""] * 22, "Noshow"),
        segment("RGS", "1", "U"),
    ])
