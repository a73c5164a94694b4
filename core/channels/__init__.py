"""What a patient channel that is not a web page (SMS, phone/IVR, chat) needs from the platform.

A small facade over the booking engine, the members and the catalogue, for channel plugins that
identify a caller by phone number and name things in words or keys instead of ids. Each call
opens its own transaction(s) in the current city (``use_city``) and applies exactly the rules
the web applies — it calls ``core.booking.service``, ``core.members`` and ``core.catalogue``
and owns no rule of its own.

- ``members``: the member behind a phone number (:func:`member_by_phone`, numbers read as
  ``core.members`` stores them: :func:`mainland_mobile`), whether a name given in a message is
  theirs (:func:`name_matches`), a keypad PIN check (:func:`check_pin`: the last six characters
  of the ID number, ``X`` as ``0``), and their opt-out of non-essential messages (:func:`set_opt_out`).
- ``catalogue``: hospitals, departments and doctors found by code, name, short name or alias
  (:func:`find_hospitals`, :func:`find_departments`, :func:`find_doctors`) as :class:`Choice`,
  and all of them for numbered keypad menus (:func:`list_hospitals`, :func:`list_departments`,
  :func:`list_doctors`).
- ``booking``: open sessions of a date and half-day (:func:`find_slots`), booking the first
  free period of them (:func:`book_first_free`), a booking as a channel states it
  (:class:`BookingSummary`), cancelling by reference (:func:`cancel`), the member's upcoming
  bookings (:func:`upcoming`).
- ``periods``: the city's bookable periods in a time range with their doctor, department and
  place (:func:`open_periods`, :class:`OpenPeriod`), booking one period (:func:`book_period`),
  a booking by reference (:func:`get_booking`, :func:`cancel_booking`), and the city's
  campuses, departments and doctors (:func:`directory`) — for a standard scheduling API.
- ``identity``: the member of a resident ID number (:func:`member_by_id_number`).
- ``wechat``: the member bound to a WeChat openid (:func:`member_by_openid`), binding one
  after the member logged in (:func:`bind_openid`) and clearing it when they unfollow
  (:func:`unbind_openid`).
- ``audit``: a third-party client's call in the audit log (:func:`record_call`).
- ``replies``: a text for a phone number, logged and queued in the caller's transaction
  (:func:`queue_text`) and sent once by the channel's outbox job through the city's SMS sender
  (:func:`deliver_text`); the texts the log shows as sent to a number (:func:`texts_sent_to`).
"""

from .audit import record_call
from .booking import BookingSummary, Slot, book_first_free, cancel, find_slots, summary, upcoming
from .catalogue import (
    Choice,
    find_departments,
    find_doctors,
    find_hospitals,
    list_departments,
    list_doctors,
    list_hospitals,
)
from .identity import member_by_id_number
from .members import ChannelMember, check_pin, mainland_mobile, member_by_phone, name_matches, set_opt_out
from .periods import Directory, OpenPeriod, book_period, cancel_booking, directory, get_booking, open_periods
from .replies import REPLY_KIND, SentText, deliver_text, queue_text, texts_sent_to
from .wechat import bind_openid, member_by_openid, unbind_openid

__all__ = [
    "REPLY_KIND",
    "BookingSummary",
    "ChannelMember",
    "Choice",
    "Directory",
    "OpenPeriod",
    "SentText",
    "Slot",
    "bind_openid",
    "book_first_free",
    "book_period",
    "cancel",
    "cancel_booking",
    "check_pin",
    "deliver_text",
    "directory",
    "find_departments",
    "find_doctors",
    "find_hospitals",
    "find_slots",
    "get_booking",
    "list_departments",
    "list_doctors",
    "list_hospitals",
    "mainland_mobile",
    "member_by_id_number",
    "member_by_openid",
    "member_by_phone",
    "name_matches",
    "open_periods",
    "queue_text",
    "record_call",
    "set_opt_out",
    "summary",
    "texts_sent_to",
    "unbind_openid",
    "upcoming",
]
