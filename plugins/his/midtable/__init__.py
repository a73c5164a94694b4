"""Intermediate-table HIS adapter (``midtable``, 中间表).

The platform and a hospital agree on tables in a database the hospital owns
(``docs/his-midtable.sql``): the HIS publishes schedules, visit statuses and fee items there,
the platform writes bookings, cancellations, moves, payments and refunds as rows the HIS picks
up and marks.

- ``adapter``: the :class:`MidtableHis` operations (pushes, pulls, health);
- ``reader``: reading by row version, so nothing is missed or read twice;
- ``database``: the connection to the hospital's database;
- ``simulator``: a hospital's side in plain SQL, for tests and the demo.

See ``docs/his-midtable.md``.
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from . import runtime
from .adapter import NAME, MidtableHis
from .meta import META  # noqa: F401  (the plugin's declaration)

__all__ = ["NAME", "MidtableHis"]


@hookimpl
def guahao_his_adapters():
    return [MidtableHis()]


@hookimpl
def guahao_booking_event(city, event, rt):
    runtime.remember(rt)
