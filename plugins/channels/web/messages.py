"""Every refusal the site can meet, as a plain sentence with what to do next (both languages).

One place: the code of a ``DomainError`` (engine, members, throttle) names an English message
id here; the catalogs translate it. Values in ``%(…)s`` come from the error's ``details``.
An unknown code falls back to a general sentence, never to a stack trace.
"""

from __future__ import annotations

from guahao.core.errors import DomainError

from .i18n import Translator

SENTENCES: dict[str, str] = {
    "slot_full": "This time slot is fully booked. Please choose another time, or join the waiting list.",
    "duplicate_session": "You have already booked this doctor's session; one booking per session. See My bookings.",
    "try_again": "The booking did not go through and no slot was taken. Please submit it once more.",
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
    "no_fee_items": "Please tick at least one fee to pay.",
    "fee_items_changed": "The fees have changed (perhaps paid at the cashier or withdrawn). Please reload and choose again.",
    "fees_unavailable": "The hospital's system cannot list your fees now. Please try again later or pay at the cashier.",
    "fee_order_closed": "This order has ended and can no longer be paid. Please choose the fees again.",
    "invalid_credentials": "The phone or ID number, or the password, is not correct. Please try again.",
    "too_many_attempts": "Too many failed log-ins. For your safety this account is locked for a while; "
    "please try again in %(minutes)s minutes.",
    "rate_limited": "Too many requests. Please try again in %(seconds)s seconds.",
    "member_exists": "This ID number or phone number is already registered. Please log in instead.",
    "invalid_name": "Please enter your real name as on your ID card (2 to 30 characters).",
    "invalid_id_number": "This ID number is not valid. Please check the 18 characters on your ID card.",
    "invalid_phone": "Please enter an 11-digit mainland mobile number.",
    "weak_password": "The password needs 8 to 128 characters, with both letters and digits.",
    "invalid_idempotency_key": "The form has expired. Please go back and try again.",
}
GENERAL = "This request could not be completed. Please try again, or call the hospital for help."
# A city's own booking rule (a plugin's ``guahao_booking_checks``) refused: its code is the rule's.
CITY_RULE = "This booking does not meet this city's booking rules. Please call the service line or choose another slot."


def sentence(exc: DomainError, _: Translator, tz=None) -> str:
    """The refusal in the visitor's language, filled with the facts in ``details``."""
    details = exc.details if isinstance(exc.details, dict) else {}
    message = SENTENCES.get(exc.code)
    if message is None:
        if "rule" in details:
            return _(CITY_RULE)
        if details.get("message_en"):  # a plugin's refusal in its own words (both languages)
            return str(details["message_en"]) if _.language == "en" else exc.message
        return _(GENERAL)
    values: dict = {}
    if exc.code == "too_many_active":
        values = {"active": details.get("active", "?"), "limit": details.get("limit", "?")}
    elif exc.code == "credit_suspended":
        values = {"until": _local(details.get("suspended_until"), tz)}
    elif exc.code == "too_many_attempts":
        values = {"minutes": max(1, -(-int(details.get("retry_after_seconds") or 60) // 60))}
    elif exc.code == "rate_limited":
        values = {"seconds": int(details.get("retry_after") or 60)}
    return _(message, **values)


def _local(iso: str | None, tz) -> str:
    from datetime import datetime

    if not iso:
        return "?"
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (at.astimezone(tz) if tz else at).strftime("%Y-%m-%d %H:%M")


# Log-in codes and kiosk log-in (otp.py, kiosk.py).
SENTENCES.update({
    "code_too_soon": "A code was sent less than a minute ago. Please wait a minute before asking for another.",
    "code_daily_limit": "Too many codes were asked for this number today. Please log in with your password, "
    "or try again tomorrow.",
    "code_attempts": "Too many wrong codes. Please ask for a new code.",
    "invalid_code": "The code is not correct or has expired. Please check the message and try again.",
    "kiosk_mismatch": "The ID card and the phone digits do not match. Please try again.",
    "kiosk_locked": "Too many wrong tries. For your safety this card is locked for 15 minutes; "
    "please ask at the hospital's service desk.",
})

# After the visit and the member's account (surveys, reviews, complaints, contact details).
SENTENCES.update({
    "not_checked_in": "Only a visit you checked in for at the hospital can be rated. "
    "After your visit, come back from My account.",
    "already_surveyed": "You have already answered the survey for this visit. Thank you.",
    "already_reviewed": "You have already reviewed the doctor for this visit. Thank you.",
    "survey_closed": "The survey for this visit closed 7 days after the visit.",
    "invalid_rating": "Please choose from 1 to 5 stars.",
    "missing_text": "Please fill in this field.",
    "text_too_long": "This text is too long. Please shorten it.",
    "invalid_category": "Please choose a category.",
    "invalid_hospital": "Please choose a hospital.",
    "booking_mismatch": "This booking is not at the hospital you chose. Check the booking number, or leave it empty.",
    "invalid_email": "Please enter a valid e-mail address, or leave it empty.",
    "openid_taken": "This WeChat account is already linked to another member.",
    "complaint_closed": "This complaint has been closed.",
})

# Paying online, and the remaining engine refusals (core/booking/errors.py).
SENTENCES.update({
    "hold_expired": "The time to pay for this booking has passed and the slot was released. If you paid, "
    "the money will be refunded. Please book again.",
    "no_payment_provider": "Online payment is not available in this city yet. Please pay at the hospital or "
    "choose another hospital.",
    "amount_mismatch": "The amount paid does not match the registration fee, so the payment was not accepted. "
    "Any money taken will be refunded.",
    "invalid_scope": "This list cannot be shown that way. Please open My bookings again.",
})

# Redis, which keeps text-message codes, does not answer (otp.py).
SENTENCES.update({
    "service_unavailable": "Text-message codes are unavailable for a moment. Please log in with your password, "
    "or try again in a minute.",
})

# Kiosk terminals bound to one hospital (terminals.py).
SENTENCES.update({
    "unknown_terminal": "This self-service terminal is not registered. Please ask the hospital's IT staff to set it up.",
    "other_hospital": "This terminal serves this hospital only. Please use the hospital's own pages, or book on the "
    "website or by phone for other hospitals.",
    "terminal_required": "Identification works only on a registered self-service terminal of a hospital. Please use "
    "the terminal in the hospital, or log in on the website.",
})

# The payment provider could not open a payment (pay.html).
SENTENCES.update({
    "payment_unavailable": "Online payment is not available right now. "
    "Please try again in a few minutes, or contact the hospital.",
})
