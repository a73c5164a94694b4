"""The adapter's own tables: every HL7 message both ways (a log for people), and the schedule
and visit messages the HIS sent us, kept for the schedule sync and the visit sweep.

Neither table holds a full ID number: the log keeps the message type, control id, the ACK's
code and text, and the booking it was about; received messages keep the fields the sync needs.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class Hl7v2Message(TenantModel, table=True):
    """One message sent to or received from a hospital's HIS, with its acknowledgement."""

    __tablename__ = "hl7v2_messages"
    __table_args__ = (Index("ix_hl7v2_messages_hospital_at", "city_id", "hospital_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int | None = None
    direction: str = Field(max_length=3)  # out | in
    message_type: str = Field(max_length=20)  # SIU^S12, ADT^A04, PING …
    control_id: str = Field(default="", max_length=40)  # MSH-10
    booking_id: str = Field(default="", max_length=24)
    ack_code: str = Field(default="", max_length=2)  # AA | AE | AR; "" = no answer
    reference: str = Field(default="", max_length=80)  # the HIS's appointment id from an AA
    text: str = Field(default="", max_length=300)  # the ACK's text, or why there was none
    latency_ms: int | None = None
    at: datetime = Field(default_factory=utcnow)


class Hl7v2Received(TenantModel, table=True):
    """A schedule or visit message the HIS sent (SIU S23/S24, S26, ADT^A04), kept for
    ``pull_schedules`` and ``pull_visit_status``; one row per message control id."""

    __tablename__ = "hl7v2_received"
    __table_args__ = (UniqueConstraint("city_id", "hospital_id", "control_id", name="uq_hl7v2_received"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int
    hospital_code: str = Field(default="", max_length=40)
    control_id: str = Field(max_length=40)
    kind: str = Field(max_length=20)  # blocked | unblocked | checked_in | no_show
    booking_id: str = Field(default="", max_length=24)
    doctor_code: str = Field(default="", max_length=40)
    department_code: str = Field(default="", max_length=20)
    day: date | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    reason: str = Field(default="", max_length=300)
    reference: str = Field(default="", max_length=80)  # the HIS's id (SCH-2, PV1-19)
    at: datetime = Field(default_factory=utcnow)
