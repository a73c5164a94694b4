"""Every refusal the site can meet, as a plain sentence with what to do next (both languages).

One place: the code of a ``DomainError`` (engine, members, throttle) names an English message
id here; the catalogs translate it. Values in ``%(…)s`` come from the error's ``details``.
An unknown code falls back to a general sentence, never to a stack trace.
"""

from __future__ import annotations

from core.errors import DomainError

from .i18n import Translator

SENTENCES: dict[str, str] = {
    "slot_full": "This time slot is fully booked. Please choose another time, or join the waiting list.",
    "duplicate_session": "You have already booked this doctor's session; one booking per session. See My bookings.",
    "too_many_active": "You already have %(active)s bookings waiting for a visit, the most allowed is %(limit)s. "
    "Please attend or cancel one before booking again.",
    "credit_suspended": "Because of missed appointments, booking is suspended until %(until)s. "
    "You can book again after that date.",
    "outside_window": "This slot cannot be booked now: booking has not opened yet or has already closed. "
    "Please choose another time or doctor.",
    "session_unavailable": "This session has been cancelled by the hospital. Please choose another doctor or date.",
    "pool_not_allowed": "These slots are kept for the hospital's own desks. Please choose a slot open online.",
    "cancel_too_late": "It is too late to cancel online. If you cannot come, please call the hospital.",
    "invalid_state": "This booking cannot be changed now. Please reload My bookings to see its status.",
    "waitlist_not_full": "This session still has free slots: please book one directly.",
    "already_waiting": "You are already on the waiting list for this session; we will tell you when a slot frees up.",
    "offer_expired": "The time to accept the offered slot has passed. You may join the waiting list again.",
    "not_found": "We could not find that page or booking. Please check and try again.",
    "invalid_credentials": "The phone or ID number, or the password, is not correct. Please try again.",
    "too_many_attempts": "Too many failed log-ins. For your safety this account is locked for a while; "
    "please try again in %(minutes)s minutes.",
    "member_exists": "This ID number or phone number is already registered. Please log in instead.",
    "invalid_name": "Please enter your real name as on your ID card (2 to 30 characters).",
    "invalid_id_number": "This ID number is not valid. Please check the 18 characters on your ID card.",
    "invalid_phone": "Please enter an 11-digit mainland mobile number.",
    "weak_password": "The password needs 8 to 128 characters, with both letters and digits.",
    "invalid_idempotency_key": "The form has expired. Please go back and try again.",
}
GENERAL = "This request could not be completed. Please try again, or call the hospital for help."


def sentence(exc: DomainError, _: Translator, tz=None) -> str:
    """The refusal in the visitor's language, filled with the facts in ``details``."""
    message = SENTENCES.get(exc.code)
    if message is None:
        return _(GENERAL)
    details = exc.details if isinstance(exc.details, dict) else {}
    values: dict = {}
    if exc.code == "too_many_active":
        values = {"active": details.get("active", "?"), "limit": details.get("limit", "?")}
    elif exc.code == "credit_suspended":
        values = {"until": _local(details.get("suspended_until"), tz)}
    elif exc.code == "too_many_attempts":
        values = {"minutes": max(1, -(-int(details.get("retry_after_seconds") or 60) // 60))}
    return _(message, **values)


def _local(iso: str | None, tz) -> str:
    from datetime import datetime

    if not iso:
        return "?"
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (at.astimezone(tz) if tz else at).strftime("%Y-%m-%d %H:%M")
