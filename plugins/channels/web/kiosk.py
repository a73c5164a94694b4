"""Kiosk mode (R5.5): the site on a hospital's self-service terminal, at ``/c/{city}/kiosk/``.

The same pages and handlers as the web site, rendered in a full-screen layout with very large
touch targets: ``templates/kiosk/base.html`` takes the place of ``base.html`` for every page.
Log-in is by ID card (the reader types the 18 characters and Enter), then the last four digits
of the member's phone or a text-message code; five wrong tries lock the card for a while.
A kiosk session is its own signed cookie on the kiosk path, gone two minutes after the last
request (the page also sends the screen back to the start after that long). Bookings made
here carry the ``kiosk`` channel, and each can print an 80-mm receipt (凭条). Every terminal is
bound to its hospital (``terminals``) and offers that hospital only; the kiosk's address opened
on a machine that is no registered terminal identifies nobody (``terminal_required``).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from functools import wraps

from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from guahao.core.booking import service
from guahao.core.errors import DomainError
from guahao.core.members.ids import validate_id_number
from guahao.core.models import Member
from guahao.core.web.session import is_https, read_cookie, write_cookie
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext
from guahao.tenants.crypto import cipher

from . import account, terminals
from . import session as sessions
from .otp import LoginCodes, invalid_code
from .site import HERE, Page, Site, page, retry_after

COOKIE = "guahao_kiosk"
IDLE_SECONDS = 120
MAX_TRIES = 5
LOCK_SECONDS = 15 * 60
CHANNEL = "kiosk"


@dataclass
class KioskSession(sessions.Session):
    """A web session plus the card just read: ``card`` is the keyed hash of its ID number under
    the current data key, ``earlier`` its hashes under keys being rotated out (members who
    registered before a rotation are stored under those)."""

    card: str | None = None
    earlier: tuple[str, ...] = ()

    def log_out(self) -> None:
        super().log_out()
        self.card = None
        self.earlier = ()


PURPOSE = "guahao-kiosk-session"  # a web cookie is never a valid kiosk cookie


def load(request: Request, keys: str | Sequence[str], city_id: int) -> KioskSession:
    """The terminal's session (``keys``: every key a cookie may be signed with)."""
    payload = read_cookie(request, COOKIE, PURPOSE, keys)
    now = int(utcnow().timestamp())
    if (not payload or payload.get("c") != city_id or not isinstance(payload.get("t"), str)
            or not isinstance(payload.get("e"), int) or payload["e"] < now):
        return KioskSession(city_id, changed=True)
    member, card, earlier = payload.get("m"), payload.get("h"), payload.get("hx")
    return KioskSession(city_id, member if isinstance(member, int) else None, payload["t"],
                        generation=sessions.int_or_zero(payload.get("g")), card=card if isinstance(card, str) else None,
                        earlier=tuple(h for h in earlier if isinstance(h, str)) if isinstance(earlier, list) else ())


def save(response: Response, request: Request, session: KioskSession, secret: str, path: str) -> None:
    """Every response slides the two-minute window."""
    payload = {"c": session.city_id, "m": session.member_id, "t": session.csrf, "h": session.card,
               "g": session.generation, "e": int(utcnow().timestamp()) + IDLE_SECONDS}
    if session.earlier:
        payload["hx"] = list(session.earlier)
    write_cookie(response, request, name=COOKIE, payload=payload, purpose=PURPOSE, key=secret, max_age=IDLE_SECONDS,
                 path=path, samesite="strict")


class KioskSite(Site):
    """The site's templates with ``kiosk/`` first, so ``base.html`` is the kiosk layout.

    Parameters:
        codes: the login codes shared with the web site.
    """

    def __init__(self, codes: LoginCodes, throttle=None):
        super().__init__(throttle)
        self.codes = codes
        self.env.loader = ChoiceLoader([FileSystemLoader(HERE / "templates" / "kiosk"), self.env.loader])


class KioskPage(Page):
    """A :class:`Page` on the kiosk: its own session, root and layout."""

    channel = CHANNEL

    def __init__(self, request: Request, site: Site, city: CityContext):
        super().__init__(request, site, city)
        self.session = load(request, self.rt.settings.secret_keys, city.id)
        self.terminal: terminals.Terminal | None = None
        self.unknown_terminal: str | None = None  # a terminal cookie the settings no longer list

    async def load_member(self) -> None:
        await super().load_member()
        terminal_id = self.request.cookies.get(terminals.COOKIE)
        if not terminal_id:
            return
        self.terminal = (await terminals.of_city(self.rt, self.city)).get(terminal_id)
        if self.terminal is None:
            self.unknown_terminal = terminal_id
        else:
            self.hospital_scope = self.terminal.hospital_id

    @property
    def root(self) -> str:
        return f"/c/{self.city.slug}/kiosk/"

    def _finish(self, response: Response) -> Response:
        save(response, self.request, self.session, self.secret, self.root)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def limit_ids(self) -> dict[str, str | int | None]:
        """The kiosk counts per terminal (its device), not per address: a hospital's terminals
        often share one."""
        return {"ip": "", "device": f"kiosk:{self.terminal.id}" if self.terminal is not None else "",
                "member": self.member.id if self.member is not None else None}

    def render(self, name: str, status: int = 200, **context) -> Response:
        return super().render(name, status, kiosk=True, idle_seconds=IDLE_SECONDS, terminal=self.terminal, **context)


def kiosk_page(site: KioskSite, *, member: bool = False, terminal: bool = True):
    """Like ``site.page``, with kiosk pages; a visitor not logged in goes back to the start.

    A machine whose terminal cookie names a terminal the city no longer lists is refused until
    it is bound again (``?terminal=`` on the start page). With ``terminal`` (every page but the
    language switch and "finish") a machine bound to no terminal is refused with
    ``terminal_required``: the kiosk identifies people only on registered terminals.
    """
    wrap = page(site, member=member, page_class=KioskPage, login_path=lambda request: "")

    def decorate(handler):
        @wraps(handler)
        async def checked(p: KioskPage) -> Response:
            binding = "terminal" in p.request.query_params
            if p.unknown_terminal and not binding:
                raise terminals.unknown_terminal(p.unknown_terminal)
            if terminal and p.terminal is None and not binding:
                if p.member is not None or p.session.card:  # a session from before: end it
                    p.session.log_out()
                    p.member = None
                raise terminals.required()
            return await handler(p)

        return wrap(checked)

    return decorate


async def bind(p: KioskPage, terminal_id: str) -> Response:
    """``?terminal=<id>``: remember the terminal on this machine, start afresh."""
    terminal = (await terminals.of_city(p.rt, p.city)).get(terminal_id)
    if terminal is None:
        raise terminals.unknown_terminal(terminal_id)
    p.session.log_out()
    response = p.redirect("")
    response.set_cookie(terminals.COOKIE, terminal.id, max_age=terminals.MAX_AGE, path=p.root, httponly=True,
                        samesite="lax", secure=is_https(p.request))
    return response


def own_hospital_only(handler):
    """A booking page of a bound terminal takes only its own hospital's slots."""

    @wraps(handler)
    async def guarded(p: KioskPage) -> Response:
        if p.hospital_scope is not None:
            async with p.rt.db.transaction() as s:
                hospital_id = await terminals.period_hospital(s, p.request.path_params["period_id"])
            if hospital_id != p.hospital_scope:
                raise terminals.elsewhere()
        return await handler(p)

    return guarded


# --- log-in by ID card ---------------------------------------------------------------------


def _locked() -> DomainError:
    error = DomainError("kiosk_locked", "错误次数过多，该身份证已暂时锁定", status=429,
                        details={"retry_after_seconds": LOCK_SECONDS})
    error.headers = {"Retry-After": str(LOCK_SECONDS)}
    return error


async def _card_member(p: KioskPage) -> Member | None:
    async with p.rt.db.transaction() as s:
        hashes = [p.session.card, *p.session.earlier]
        return await s.scalar(select(Member).where(Member.id_number_hash.in_(hashes)))


def _subject(p: KioskPage, member: Member | None) -> str:
    """Whose code counters: the member's phone, or the unknown card itself."""
    return member.phone if member is not None else f"card:{p.session.card}"


def start(browse_home):
    """The start page: the card form, the second step, or (logged in) the site's home."""

    async def kiosk_start(p: KioskPage) -> Response:
        if "terminal" in p.request.query_params:
            return await bind(p, p.request.query_params["terminal"].strip()[:40])
        if p.request.query_params.get("idle") == "1" and (p.member or p.session.card):
            p.session.log_out()
            p.member = None
        if p.member is not None:
            return await browse_home(p)
        if p.session.card:
            return p.render("verify.html", error=None, code_sent=False)
        return p.render("start.html", error=None)

    return kiosk_start


async def card(p: KioskPage) -> Response:
    """The card reader typed an ID number: remember its hash, ask for the second factor."""
    try:
        info = validate_id_number(p.form.get("id_number", "").strip()[:40])
    except DomainError as exc:
        return p.render("start.html", status=422, error=p.refusal(exc))
    p.session.log_out()
    p.session.card, *earlier = cipher().lookup_hashes(info.number)
    p.session.earlier = tuple(earlier)
    return p.redirect("")


async def verify(p: KioskPage) -> Response:
    """The phone's last four digits, or a text-message code, finish the log-in."""
    if not p.session.card:
        return p.redirect("")
    store = p.site.codes.store(p.rt)
    tries_key = f"guahao:kiosk:{p.city.slug}:{p.session.card}:tries"
    member = await _card_member(p)
    action = p.form.get("action")
    try:
        if action == "send":
            await p.rate_limit("sms_phone", "sms_device", phone=_subject(p, member))
            await p.site.codes.send(p.rt, _subject(p, member), member.id if member else None)
            return p.render("verify.html", error=None, code_sent=True)
        if action == "code":
            if not await p.site.codes.verify(p.rt, _subject(p, member), p.form.get("code", "")) or member is None:
                raise invalid_code()
        else:
            if await store.incr(tries_key, LOCK_SECONDS) > MAX_TRIES:
                raise _locked()
            digits = p.form.get("digits", "").strip()
            expected = member.phone[-4:] if member is not None else "\x00"
            if not hmac.compare_digest(digits.encode(), expected.encode()):
                raise DomainError("kiosk_mismatch", "身份证与手机号后四位不匹配", status=401)
    except DomainError as exc:
        status = exc.status if 400 <= exc.status < 500 else 400
        return retry_after(p.render("verify.html", status=status, error=p.refusal(exc), code_sent=action == "code"), exc)
    await store.delete(tries_key)
    p.session.log_in(member.id, member.session_generation)
    p.session.card = None
    return p.redirect("")


async def logout(p: KioskPage) -> Response:
    await account.end_member_sessions(p)
    p.session.log_out()
    return p.redirect("")


async def receipt(p: KioskPage) -> Response:
    """The 凭条 of one of the member's own bookings, for the 80-mm printer."""
    booking = await service.get_booking(p.rt, member_id=p.member.id, booking_id=p.request.path_params["ref"])
    printed = utcnow().astimezone(p.city.tz).strftime("%Y-%m-%d %H:%M")
    return p.render("receipt.html", booking=booking, printed_at=printed)


def routes(codes: LoginCodes) -> list:
    """The kiosk's routes, relative to the city root (all under ``kiosk/``)."""
    from starlette.routing import Route

    from . import account, booking, browse

    site = KioskSite(codes)
    open_, members = kiosk_page(site), kiosk_page(site, member=True)
    anywhere = kiosk_page(site, terminal=False)  # the refusal page can be read in English and left
    get, both = ["GET", "HEAD"], ["GET", "HEAD", "POST"]
    return [
        Route("/kiosk/", open_(start(browse.home)), methods=get),
        Route("/kiosk", open_(start(browse.home)), methods=get),
        Route("/kiosk/card", open_(card), methods=["POST"]),
        Route("/kiosk/verify", open_(verify), methods=["POST"]),
        Route("/kiosk/logout", anywhere(logout), methods=["POST"]),
        Route("/kiosk/preferences", anywhere(account.preferences), methods=["POST"]),
        Route("/kiosk/hospitals/{hospital_id:int}", members(browse.hospital), methods=get),
        Route("/kiosk/departments/{department_id:int}", members(browse.department), methods=get),
        Route("/kiosk/doctors/{doctor_id:int}", members(browse.doctor), methods=get),
        Route("/kiosk/book/{period_id:int}", members(own_hospital_only(booking.confirm)), methods=both),
        Route("/kiosk/bookings", members(booking.bookings), methods=get),
        Route("/kiosk/bookings/{ref}", members(booking.detail), methods=get),
        Route("/kiosk/bookings/{ref}/cancel", members(booking.cancel), methods=both),
        Route("/kiosk/bookings/{ref}/pay", members(booking.pay), methods=both),
        Route("/kiosk/bookings/{ref}/paid", members(booking.paid), methods=get),
        Route("/kiosk/bookings/{ref}/accept", members(booking.accept), methods=["POST"]),
        Route("/kiosk/waitlist", members(booking.join_waitlist), methods=["POST"]),
        Route("/kiosk/receipt/{ref}", members(receipt), methods=get),
    ]
