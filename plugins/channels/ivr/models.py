"""Phone calls: one row per call (the platform's ``CallSid``, unique per city) holding the
menu's state, so any web process can answer the call's next request.

``turn`` counts the requests acted on; each prompt's action URL names the turn it answers, so
a request the platform repeats (a retry) is recognised and answered with the stored reply
(``reply``) instead of being acted on twice. ``ref`` is the short number read to the caller and
shown to the agent a call is handed to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class IvrCall(TenantModel, table=True):
    """One phone call and where it is in the menu."""

    __tablename__ = "ivr_calls"
    __table_args__ = (
        UniqueConstraint("city_id", "call_sid", name="uq_ivr_call_sid"),
        UniqueConstraint("city_id", "ref", name="uq_ivr_call_ref"),
        Index("ix_ivr_calls_member", "city_id", "member_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    call_sid: str = Field(max_length=64)
    ref: str = Field(max_length=12)  # the call's number for the agent (digits)
    caller: str = Field(default="", max_length=40)  # the calling number as the platform gave it
    member_id: int | None = None  # once identified (PIN checked)
    status: str = Field(default="active", max_length=20)  # active | agent | ended
    turn: int = 0
    state: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reply: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # the last turn played
    booking_id: str = Field(default="", max_length=24)  # the booking made in the call, if any
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    minutes_reported: bool = False
