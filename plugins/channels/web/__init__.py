"""The patient web site (the stock ``web`` channel), served per city at ``/c/{city}/``.

Server-rendered pages that need no JavaScript: browse hospitals, departments and doctors, see
a doctor's fortnight, book, see and cancel bookings, join a waiting list, check credit; register
and log in. zh-CN by default, English switchable; large text, high contrast. A city turns the
site on by enabling the ``web`` plugin; without it the platform's modest city page answers.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from guahao.core.hookspecs import hookimpl

from . import account, booking, browse, feedback, fees, kiosk, otp, profile, receipts
from .meta import META  # noqa: F401  (the plugin's declaration)
from .site import Site, page

NAME = "web"


def routes(site: Site | None = None) -> list:
    """The site's routes, relative to the city root."""
    site = site or Site()
    open_ = page(site)
    members = page(site, member=True)
    booking_page = page(site, member=True, reason="book")  # log-in says why, then back to the slot
    get, both = ["GET", "HEAD"], ["GET", "HEAD", "POST"]
    codes = otp.LoginCodes()
    return [
        Route("/login/code", open_(otp.login_page(codes)), methods=both),
        *kiosk.routes(codes),
        Route("/", open_(browse.home), methods=get),
        Route("/hospitals/{hospital_id:int}", open_(browse.hospital), methods=get),
        Route("/departments/{department_id:int}", open_(browse.department), methods=get),
        Route("/doctors/{doctor_id:int}", open_(browse.doctor), methods=get),
        Route("/book/{period_id:int}", booking_page(booking.confirm), methods=both),
        Route("/bookings", members(booking.bookings), methods=get),
        Route("/bookings/{ref}", members(booking.detail), methods=get),
        Route("/bookings/{ref}/cancel", members(booking.cancel), methods=both),
        Route("/bookings/{ref}/pay", members(booking.pay), methods=both),
        Route("/bookings/{ref}/paid", members(booking.paid), methods=get),
        Route("/bookings/{ref}/accept", members(booking.accept), methods=["POST"]),
        Route("/fees", members(fees.overview), methods=get),
        Route("/fees", members(fees.choose), methods=["POST"]),
        Route("/fees/{ref}/pay", members(fees.pay), methods=both),
        Route("/fees/{ref}/paid", members(fees.paid), methods=get),
        Route("/receipts", members(receipts.index), methods=get),
        Route("/receipts/{number}", members(receipts.one), methods=get),
        Route("/waitlist", members(booking.join_waitlist), methods=["POST"]),
        Route("/credit", members(account.credit_page), methods=get),
        Route("/register", open_(account.register), methods=both),
        Route("/login", open_(account.login), methods=both),
        Route("/logout", open_(account.logout), methods=["POST"]),
        Route("/preferences", open_(account.preferences), methods=["POST"]),
        Route("/profile", members(profile.profile), methods=both),
        Route("/survey/{ref}", members(feedback.survey), methods=both),
        Route("/review/{ref}", members(feedback.review), methods=both),
        Route("/complaints", members(feedback.complaint_list), methods=get),
        Route("/complaints/new", members(feedback.complaint_new), methods=both),
        Route("/complaints/{complaint_id:int}", members(feedback.complaint_detail), methods=get),
        Route("/news", open_(feedback.news), methods=get),
        Route("/articles/{article_id:int}", open_(feedback.article), methods=get),
        Mount("/assets", app=StaticFiles(directory=Path(__file__).parent / "static")),
    ]


@hookimpl
def guahao_city_pages():
    return routes()
