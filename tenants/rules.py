"""Per-city booking rules (R2.5, R3, R4). Defaults follow the seed documents and Beijing's 114."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, Field, field_validator


class CityRules(BaseModel):
    """Rules a city operator sets for its platform.

    Parameters:
        booking_window_days: slots open this many days ahead of the session date.
        release_time: local time at which a day's slots open (first come, first served).
        max_active_bookings: future, not cancelled bookings a member may hold (R3.2).
        cancel_days_before / cancel_time: cancellation allowed until ``cancel_time`` local on
            the day ``cancel_days_before`` days before the session; 0 days means until the
            period starts.
        hold_minutes: how long an unpaid booking holds its slot (R3.5).
        waitlist_offer_minutes: how long a waitlisted member has to accept a freed slot.
        late_grace_minutes: check-in after period start plus this counts as late (R4.2).
        credit_ladder_days: suspension days for the 1st, 2nd, 3rd… no-show in the credit
            window; the last step repeats.
        credit_window_days: rolling window for counting no-shows; ``None`` = calendar year.
        booking_cutoff_minutes: booking closes this many minutes before the period starts.
    """

    booking_window_days: int = Field(14, ge=1, le=90)
    release_time: time = time(7, 30)
    max_active_bookings: int = Field(2, ge=1, le=50)
    cancel_days_before: int = Field(1, ge=0, le=14)
    cancel_time: time = time(18, 0)
    hold_minutes: int = Field(15, ge=1, le=24 * 60)
    waitlist_offer_minutes: int = Field(30, ge=1, le=24 * 60)
    late_grace_minutes: int = Field(15, ge=0, le=240)
    credit_ladder_days: list[int] = Field(default_factory=lambda: [30, 60, 90])
    credit_window_days: int | None = None
    booking_cutoff_minutes: int = Field(0, ge=0, le=24 * 60)

    @field_validator("credit_ladder_days")
    @classmethod
    def _ladder(cls, v: list[int]) -> list[int]:
        if not v or any(d < 0 for d in v):
            raise ValueError("credit ladder needs at least one non-negative number of days")
        return v
