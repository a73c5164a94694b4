"""Confirm and book a period, the confirmation page, my bookings, cancel, the waiting list and
accepting the slot it offers."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from guahao.core import payments
from guahao.core.booking import service
from guahao.core.catalogue import places, queries
from guahao.core.errors import DomainError, NotFound
from guahao.core.feedback import reviews, surveys
from guahao.core.models import BookingEvent, ClinicSession, Period, RegistrationType

from . import paying
from .site import Page, retry_after

CHANNEL = "web"
SCOPES = ("upcoming", "past", "cancelled")
# Cancelled by the hospital, not the member: the booking page offers the same doctor again.
HOSPITAL_REASONS = ("session_suspended", "session_moved", "staff")
# Booking event kinds about a refund (``core.payments.refunds``, the Stripe plugin's webhooks).
REFUND_FAILED = "refund_failed"
REFUND_EVENTS = (payments.REFUNDED, "refund_succeeded", REFUND_FAILED)
NOTICES = {
    "cancelled": "Your booking has been cancelled.",
    "waiting": "You are on the waiting list. We will send you a message if a slot frees up.",
    "accepted": "You have accepted the offered slot.",
}


async def period_facts(p: Page, period_id: int) -> dict:
    """What the confirm page shows about a period: who, where, when, how much."""
    async with p.rt.db.transaction() as s:
        row = (
            await s.execute(
                select(Period, ClinicSession, RegistrationType.name)
                .join(ClinicSession, ClinicSession.id == Period.session_id)
                .join(RegistrationType, RegistrationType.id == ClinicSession.registration_type_id)
                .where(Period.id == period_id)
            )
        ).first()
        if row is None:
            raise NotFound("号源")
        period, session, type_name = row
        doctor = await queries.get_doctor(s, session.doctor_id)
        hospital = await queries.get_hospital(s, session.hospital_id)
        place = await places.session_place(s, session.id)
    return {
        "period_id": period.id, "session_id": session.id, "doctor": doctor, "hospital": hospital, "place": place,
        "date": session.date.isoformat(), "half_day": session.half_day, "start": period.start.strftime("%H:%M"),
        "end": period.end.strftime("%H:%M"), "fee_fen": session.fee_fen, "type_name": type_name,
    }


async def confirm(p: Page) -> Response:
    period_id = p.request.path_params["period_id"]
    info = await period_facts(p, period_id)
    if p.request.method == "GET":
        return p.render("confirm.html", info=info, key=secrets.token_urlsafe(18), error=None)
    key = p.form.get("key") or None
    try:
        booking, _status, _replayed = await service.book(
            p.rt, member_id=p.member.id, period_id=period_id, channel=getattr(p, "channel", CHANNEL),
            idempotency_key=key, admit=lambda: p.rate_limit("book_member", "book_ip", "book_device"),
        )
    except DomainError as exc:
        if exc.code in ("not_found", "invalid_idempotency_key"):
            raise
        return retry_after(p.render("confirm.html", status=exc.status if 400 <= exc.status < 500 else 409, info=info,
                                    key=secrets.token_urlsafe(18), error=p.refusal(exc), code=exc.code), exc)
    if booking["status"] == "pending_payment" and getattr(p, "channel", CHANNEL) in (CHANNEL, "kiosk"):
        return p.redirect(f"bookings/{booking['id']}/pay")
    return p.redirect(f"bookings/{booking['id']}?new=1")


def _local(at: str | None, p: Page) -> str:
    if not at:
        return ""
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(p.city.tz).strftime("%Y-%m-%d %H:%M")


async def refund_state(p: Page, booking: dict) -> str | None:
    """What became of a cancelled booking's fee: ``refunded``, ``refund_pending`` (the refund is
    asked for, or the provider is settling it), ``refund_failed`` (the provider's last word on it
    was a failure: staff give it back another way), ``not_paid`` (held, never paid) or
    ``at_hospital`` (paid at the hospital: nothing was paid, nothing to refund); ``None`` for a
    booking that is not cancelled. Reads the booking's refund events only for a paid booking."""
    if booking["status"] != "cancelled":
        return None
    paid = booking["payment_status"]
    if paid == "refunded":
        return "refunded"
    if paid == "unpaid":
        return "not_paid"
    if paid != "paid":
        return "at_hospital"
    async with p.rt.db.transaction() as s:
        last = await s.scalar(
            select(BookingEvent.kind)
            .where(BookingEvent.booking_id == booking["id"], BookingEvent.kind.in_(REFUND_EVENTS))
            .order_by(BookingEvent.id.desc())
            .limit(1)
        )
    return "refund_failed" if last == REFUND_FAILED else "refund_pending"


async def detail(p: Page, *, status: int = 200, error: str | None = None) -> Response:
    booking = await service.get_booking(p.rt, member_id=p.member.id, booking_id=p.request.path_params["ref"])
    notice = NOTICES.get(p.request.query_params.get("done", "")) if error is None else None
    rebook = (booking["status"] == "cancelled" and booking["cancel_reason"] in HOSPITAL_REASONS
              and p.hospital_scope in (None, booking["hospital_id"]))
    return p.render("booking.html", status=status, booking=booking,
                    new=p.request.query_params.get("new") == "1", deadline=_local(booking.get("hold_expires_at"), p),
                    error=error, notice=p._(notice) if notice else None, refund=await refund_state(p, booking),
                    rebook=rebook)


async def _after_visit(p: Page) -> tuple[set[str], set[str]]:
    """The member's visits still open for a survey, and those the member may still review."""
    async with p.rt.db.transaction() as s:
        to_survey = await surveys.open_surveys(s, p.member.id, limit=100)
        to_review = await reviews.reviewable_bookings(s, p.member.id, limit=100)
    return {b.id for b in to_survey}, {b.id for b in to_review}


async def bookings(p: Page) -> Response:
    scope = p.request.query_params.get("scope", "upcoming")
    scope = scope if scope in SCOPES else "upcoming"
    items = await service.list_bookings(p.rt, member_id=p.member.id, scope=scope)
    waiting = await service.list_waitlist(p.rt, member_id=p.member.id) if scope == "upcoming" else []
    notice = NOTICES.get(p.request.query_params.get("done", ""))
    surveyable, reviewable = await _after_visit(p) if scope == "past" else (set(), set())
    deadlines = {b["id"]: _local(b.get("hold_expires_at"), p) for b in items if b["status"] == "offered"}
    to_pay = {b["id"]: _local(b.get("hold_expires_at"), p) for b in items if b["status"] == "pending_payment"}
    return p.render("bookings.html", items=items, scope=scope, scopes=SCOPES, waiting=waiting,
                    notice=p._(notice) if notice else None, deadlines=deadlines, surveyable=surveyable,
                    reviewable=reviewable, to_pay=to_pay)


async def cancel(p: Page) -> Response:
    ref = p.request.path_params["ref"]
    booking = await service.get_booking(p.rt, member_id=p.member.id, booking_id=ref)
    if p.request.method == "GET":
        return p.render("cancel.html", booking=booking, error=None)
    try:
        await service.cancel_booking(p.rt, member_id=p.member.id, booking_id=ref, reason="member")
    except DomainError as exc:
        if exc.code == "not_found":
            raise
        return p.render("cancel.html", status=409, booking=booking, error=p.refusal(exc))
    return p.redirect("bookings?scope=cancelled&done=cancelled")


async def join_waitlist(p: Page) -> Response:
    try:
        session_id = int(p.form.get("session_id", ""))
    except ValueError:
        raise NotFound("出诊") from None
    await service.join_waitlist(p.rt, member_id=p.member.id, session_id=session_id)
    return p.redirect("bookings?done=waiting")



async def accept(p: Page) -> Response:
    """Take up a slot the waiting list offers; a refusal is a sentence on the booking page."""
    ref = p.request.path_params["ref"]
    try:
        await service.accept_offer(p.rt, member_id=p.member.id, booking_id=ref)
    except DomainError as exc:
        if exc.code == "not_found":
            raise
        return await detail(p, status=exc.status if 400 <= exc.status < 500 else 409, error=p.refusal(exc))
    return p.redirect(f"bookings/{ref}?done=accepted")


async def pay(p: Page) -> Response:
    """The held booking's payment page: amount and deadline; the button opens the city's
    payment provider, whose page sends the member back to :func:`paid`."""
    ref = p.request.path_params["ref"]
    booking = await service.get_booking(p.rt, member_id=p.member.id, booking_id=ref)
    if booking["status"] != "pending_payment":
        return p.redirect(f"bookings/{ref}/paid")
    error = code = None
    if p.request.method == "POST":
        back = str(p.request.base_url).rstrip("/") + p.url(f"bookings/{ref}/paid")
        kiosk = getattr(p, "channel", CHANNEL) == "kiosk"
        back = paying.with_hints(back, paying.client_hints(p, kiosk=kiosk))
        try:
            intent = await payments.start_payment(p.rt, member_id=p.member.id, booking_id=ref, return_url=back)
        except DomainError as exc:
            if exc.code == "not_found":
                raise
            if exc.code == "hold_expired":
                return p.redirect(f"bookings/{ref}/paid")
            error, code = p.refusal(exc), exc.code
        else:
            # Scan to pay (WeChat Pay Native, Alipay precreate…); a kiosk shows a provider's page as
            # a code too, for the member to pay on their phone.
            scan = intent.data.get("qr_url") or (intent.redirect_url if kiosk else None)
            if scan:
                return p.render("pay.html", booking=booking, state="qr", error=None, code=None,
                                deadline=_local(booking.get("hold_expires_at"), p), left=False,
                                qr=paying.qr_svg(str(scan)), provider=intent.provider)
            if intent.redirect_url:
                return p._finish(RedirectResponse(intent.redirect_url, status_code=303))
            if intent.data.get("jsapi"):  # inside WeChat: WeChat Pay's own sheet
                return p.render("pay.html", booking=booking, state="jsapi", error=None, code=None,
                                deadline=_local(booking.get("hold_expires_at"), p), left=False, jsapi=intent.data["jsapi"])
            return p.redirect(f"bookings/{ref}/paid")
    return p.render("pay.html", status=409 if error else 200, booking=booking, state="due", error=error, code=code,
                    deadline=_local(booking.get("hold_expires_at"), p),
                    left=p.request.query_params.get("cancelled") == "1")


async def paid(p: Page) -> Response:
    """Back from the provider: paid and confirmed, still waiting for the provider's word (the
    page asks the provider once more; no script needed, a link reloads), or the hold ended."""
    ref = p.request.path_params["ref"]
    if p.request.query_params.get("cancelled") == "1":
        return p.redirect(f"bookings/{ref}/pay?cancelled=1")
    booking = await service.get_booking(p.rt, member_id=p.member.id, booking_id=ref)
    if p.request.query_params.get("poll") == "1":  # the QR page's poll: the provider's callback decides
        if booking["status"] == "pending_payment":
            return p._finish(Response(status_code=204))
        return p._finish(Response(status_code=200, headers={"HX-Redirect": p.url(f"bookings/{ref}/paid")}))
    if booking["status"] == "pending_payment":
        await payments.check_payment(p.rt, member_id=p.member.id, booking_id=ref)
        booking = await service.get_booking(p.rt, member_id=p.member.id, booking_id=ref)
    if booking["status"] == "confirmed" and booking["payment_status"] == "paid":
        state = "paid"
    elif booking["status"] == "pending_payment":
        state = "waiting"
    elif booking["status"] == "expired":
        state = "expired"
    else:
        return p.redirect(f"bookings/{ref}")
    return p.render("pay.html", booking=booking, state=state, error=None, code=None,
                    deadline=_local(booking.get("hold_expires_at"), p), left=False)
