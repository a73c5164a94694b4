"""Inbound text messages: each is stored once per city, provider and the provider's message id
(a unique constraint, so a gateway's redelivery — even two at the same moment — is one row and
is acted on once), with what became of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class SmsInboundMessage(TenantModel, table=True):
    """One member's text message as a gateway delivered it, and its outcome."""

    __tablename__ = "sms_inbound_messages"
    __table_args__ = (
        UniqueConstraint("city_id", "provider", "message_id", name="uq_sms_inbound_message"),
        Index("ix_sms_inbound_phone", "city_id", "phone", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)  # aliyun | tencent | generic
    message_id: str = Field(max_length=120)  # the provider's id of the message
    phone: str = Field(max_length=20)
    text: str = Field(max_length=500)
    sent_at: datetime | None = None  # when the member sent it, as the gateway says
    received_at: datetime = Field(default_factory=utcnow)
    status: str = Field(default="received", max_length=20)  # received | done
    outcome: str = Field(default="", max_length=40)  # booked, cancelled, listed, help, a refusal code…
    member_id: int | None = None
    booking_id: str = Field(default="", max_length=24)
    # The numbered choices the reply offered (``{"field", "options", "request"}``), for a "2" sent next.
    choices: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
