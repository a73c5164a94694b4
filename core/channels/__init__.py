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
- ``replies``: a text for a phone number, logged and queued in the caller's transaction
  (:func:`queue_text`) and sent once by the channel's outbox job through the city's SMS sender
  (:func:`deliver_text`).
"""

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
from .members import ChannelMember, check_pin, mainland_mobile, member_by_phone, name_matches, set_opt_out
from .replies import REPLY_KIND, deliver_text, queue_text

__all__ = [
    "REPLY_KIND",
    "BookingSummary",
    "ChannelMember",
    "Choice",
    "Slot",
    "book_first_free",
    "cancel",
    "check_pin",
    "deliver_text",
    "find_departments",
    "find_doctors",
    "find_hospitals",
    "find_slots",
    "list_departments",
    "list_doctors",
    "list_hospitals",
    "mainland_mobile",
    "member_by_phone",
    "name_matches",
    "queue_text",
    "set_opt_out",
    "summary",
    "upcoming",
]
