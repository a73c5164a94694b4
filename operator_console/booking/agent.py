"""The call-centre agent's pages (12320, R12.2): find the caller, check their identity, then
see their bookings and book, cancel or move on their behalf with the call's recording reference.

The caller's mobile or ID number is posted, never sent in a URL (addresses end up in browser
history and access logs); the search result's address carries a signed member id instead.

The caller's pages are reachable only with a *caller token*: signed, naming the member, the
city and the agent who passed the identity check, and valid for ``CALLER_SECONDS``. A member
id typed into a URL or form is never trusted, so an agent cannot open a caller they did not
verify, nor reuse another agent's token. Every booking action goes through
``core.backoffice.agent`` (the engine's rules, an audit entry, the recording reference).
"""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response
from starlette.routing import Route

from guahao.core import audit
from guahao.core.backoffice import agent as calls
from guahao.core.backoffice import errors as office_errors
from guahao.core.backoffice.patients import match_view
from guahao.core.booking.errors import BookingNotFound
from guahao.core.errors import DomainError, Forbidden
from guahao.core.models import Member
from guahao.core.web.signing import sign, unsign
from guahao.plugins.channels.ivr import calls as phone_calls
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from . import picking

PURPOSE = "guahao-console-caller"
CALLER_SECONDS = 30 * 60
FOUND_PURPOSE = "guahao-console-caller-search"
FOUND_SECONDS = 10 * 60


def _now() -> int:
    return int(utcnow().timestamp())


def caller_token(c: Console, member_id: int) -> str:
    """A token saying this agent verified ``member_id`` of this city just now."""
    payload = {"m": member_id, "c": c.city.id, "a": f"{c.principal.kind}:{c.principal.id}",
               "x": _now() + CALLER_SECONDS}
    return sign(c.rt.settings.secret_key, payload, PURPOSE)


def verified_member(c: Console) -> tuple[int, str]:
    """The member id of the request's caller token (query or form ``t``) and the token;
    403 ``identity_check_required`` when it is missing, expired or not this agent's."""
    token = c.form.get("t") or c.request.query_params.get("t", "")
    payload = unsign(c.rt.settings.secret_keys, token, PURPOSE) if token else None
    ok = (
        payload is not None
        and payload.get("c") == c.city.id
        and payload.get("a") == f"{c.principal.kind}:{c.principal.id}"
        and isinstance(payload.get("x"), int) and payload["x"] >= _now()
        and isinstance(payload.get("m"), int)
    )
    if not ok:
        raise Forbidden("identity_check_required", "请先核验来电者身份 / check the caller's identity first")
    return payload["m"], token


def found_token(c: Console, member_id: int) -> str:
    """A token naming the member this agent's search found, for the result page's address."""
    payload = {"m": member_id, "c": c.city.id, "a": f"{c.principal.kind}:{c.principal.id}", "x": _now() + FOUND_SECONDS}
    return sign(c.rt.settings.secret_key, payload, FOUND_PURPOSE)


def found_member(c: Console, token: str) -> int | None:
    """The member id of this agent's fresh search result token, else ``None``."""
    payload = unsign(c.rt.settings.secret_keys, token, FOUND_PURPOSE) if token else None
    ok = (
        payload is not None
        and payload.get("c") == c.city.id
        and payload.get("a") == f"{c.principal.kind}:{c.principal.id}"
        and isinstance(payload.get("x"), int) and payload["x"] >= _now()
        and isinstance(payload.get("m"), int)
    )
    return payload["m"] if ok else None


@console_page("agent.assist")
async def search(c: Console) -> Response:
    """The caller search. The mobile or ID number is posted (CSRF-checked), never put in a URL,
    so it stays out of addresses, browser history and access logs; a match answers with a
    redirect to ``agent?found=<token>`` (a signed member id for this agent, valid for
    ``FOUND_SECONDS``), so reloading and going back and forth never post the number again.
    A ``q`` in the address (an old link) is not looked up: it is sent to the empty form."""
    if c.request.method == "POST":
        query = c.form.get("q", "").strip()[:40]
        try:
            async with c.transaction() as s:
                member = await picking.find_member(s, query)
        except DomainError as exc:
            status = exc.status if 400 <= exc.status < 500 else 400
            return c.render("agent/search.html", status=status, q=query, match=None, error=c.refusal(exc), failed=False)
        return c.redirect(f"agent?found={found_token(c, member.id)}")
    if "q" in c.request.query_params:
        return c.redirect("agent")
    if "call" in c.request.query_params:
        return await _from_phone_call(c, c.request.query_params["call"].strip()[:12])
    token = c.request.query_params.get("found", "")
    match, error = None, None
    if token:
        member_id = found_member(c, token)
        async with c.transaction() as s:
            member = await s.get(Member, member_id) if member_id else None
        if member is None:
            error = c._("This search result has expired or is not yours. Please search again.")
        else:
            match = match_view(member)
    return c.render("agent/search.html", q="", match=match, found=token if match else "", error=error, failed=False)


async def _from_phone_call(c: Console, ref: str) -> Response:
    """``agent?call=REF``: the caller the phone menu (``ivr``) handed over with call reference
    ``REF`` — their page at once, as the menu checked their PIN (the last six characters of the
    ID number); the opening is audited. An unknown, old or unidentified call shows the search."""
    member_id = None
    if "ivr" in (await c.rt.plugins.for_city(c.city)).names:
        member_id = await phone_calls.handed_member(c.rt, c.city, ref)
    if member_id is None:
        error = c._("No identified phone call handed to an agent has this reference (kept for two hours).")
        return c.render("agent/search.html", status=404, q="", match=None, error=error, failed=False)
    async with c.transaction() as s:
        audit.record(s, c.actor(), "agent.identity_check", target_type="member", target_id=member_id,
                     summary=f"电话转接（通话{ref}，电话密码已核验）", after={"passed": True, "call": ref})
    return c.redirect(f"agent/caller?t={caller_token(c, member_id)}&call={ref}")


@console_page("agent.assist")
async def verify(c: Console) -> Response:
    member_id = c.int_field("member_id")
    async with c.transaction() as s:
        member = await s.get(Member, member_id) if member_id else None
    if member is None:
        raise office_errors.Missing("会员")
    passed = await calls.verify_identity(
        c.rt, member.id, name=c.form.get("name", ""), id_last4=c.form.get("id_last4", ""), actor=c.actor()
    )
    if not passed:
        return c.render("agent/search.html", status=403, q="", match=match_view(member), found=c.form.get("found", ""),
                        error=c._("The name or the last 4 characters of the ID number do not match."), failed=True)
    return c.redirect(f"agent/caller?t={caller_token(c, member.id)}")


@console_page("agent.assist")
async def caller(c: Console) -> Response:
    member_id, token = verified_member(c)
    return await _caller_page(c, member_id, token)


async def _caller_page(c: Console, member_id: int, token: str, *, error: str | None = None, status: int = 200) -> Response:
    summary = await calls.caller_summary(c.rt, member_id)
    call = c.request.query_params.get("call", "")
    return c.render("agent/caller.html", status=status, summary=summary, t=token, error=error,
                    moment=lambda at: at and _local(c, at), phone_call=call if call.isdigit() and len(call) == 8 else "",
                    **picking.LABELS)


def _local(c: Console, at) -> str:
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return value.astimezone(c.city.tz).strftime("%Y-%m-%d %H:%M")


@console_page("agent.assist")
async def book(c: Console) -> Response:
    member_id, token = verified_member(c)
    if c.request.method == "POST":
        return await _book_post(c, member_id, token)
    return await _picker(c, member_id, token)


async def _picker(c: Console, member_id: int, token: str, *, error: str | None = None, status: int = 200) -> Response:
    hospital_id, department_id = c.int_field("hospital_id"), c.int_field("department_id")
    moving = (c.form.get("booking_id") or c.request.query_params.get("booking_id", "")).strip()[:20]
    summary = await calls.caller_summary(c.rt, member_id)
    current = next((b for b in summary.upcoming if b["id"] == moving), None) if moving else None
    if moving and current is None:
        raise BookingNotFound()
    if current is not None and hospital_id is None:
        hospital_id, department_id = current["hospital_id"], current["department_id"]
    async with c.transaction() as s:
        hospitals = await picking.hospitals(s)
        departments = await picking.departments(s, hospital_id) if hospital_id else []
        if department_id is not None and hospital_id is not None:
            await picking.department(s, department_id, hospital_id)
            sessions = await picking.public_sessions(s, department_id=department_id)
        else:
            sessions = None
    return c.render("agent/book.html", status=status, summary=summary, t=token, hospitals=hospitals,
                    departments=departments, hospital_id=hospital_id, department_id=department_id,
                    sessions=sessions, current=current, error=error, recording_ref=c.form.get("recording_ref", ""),
                    **picking.LABELS)


async def _book_post(c: Console, member_id: int, token: str) -> Response:
    period_id = c.int_field("period_id")
    moving = c.form.get("booking_id", "").strip()
    try:
        if period_id is None:
            raise office_errors.invalid("period_id", "请选择就诊时段。", code="period_required")
        if moving:
            view = await calls.move_for_caller(c.rt, member_id=member_id, booking_id=moving, period_id=period_id,
                                               recording_ref=c.form.get("recording_ref", ""), actor=c.actor())
            flash = c._("Booking %(old)s moved to %(new)s.", old=moving, new=view["id"])
        else:
            view = await calls.book_for_caller(c.rt, member_id=member_id, period_id=period_id,
                                               recording_ref=c.form.get("recording_ref", ""), actor=c.actor())
            flash = c._("Booked: %(ref)s.", ref=view["id"])
    except DomainError as exc:
        return await _picker(c, member_id, token, error=c.refusal(exc), status=exc.status)
    return c.redirect(f"agent/caller?t={token}", flash=flash)


@console_page("agent.assist")
async def cancel(c: Console) -> Response:
    member_id, token = verified_member(c)
    booking_id = c.form.get("booking_id", "").strip()
    try:
        await calls.cancel_for_caller(c.rt, member_id=member_id, booking_id=booking_id,
                                      recording_ref=c.form.get("recording_ref", ""), actor=c.actor(),
                                      reason=c.form.get("reason", "")[:200])
    except DomainError as exc:
        return await _caller_page(c, member_id, token, error=c.refusal(exc), status=exc.status)
    return c.redirect(f"agent/caller?t={token}", flash=c._("Booking %(ref)s cancelled.", ref=booking_id))


def routes() -> list:
    return [
        Route("/c/{city}/agent", search, methods=["GET", "POST"]),
        Route("/c/{city}/agent/verify", verify, methods=["POST"]),
        Route("/c/{city}/agent/caller", caller, methods=["GET"]),
        Route("/c/{city}/agent/book", book, methods=["GET", "POST"]),
        Route("/c/{city}/agent/cancel", cancel, methods=["POST"]),
    ]
