"""HL7 v2.5 HIS adapter over MLLP (``hl7v2``).

- ``adapter``: pushes bookings (SIU^S12), moves (S13), payments and refunds (S14), cancellations
  (S15) and reads the ACK (AA accepted, AE retried, AR refused for good).
- ``listener``: our MLLP server, run by ``guahao worker`` for hospitals that set ``listen_port``:
  ADT^A04 checks a booking in, SIU^S23/S24/S26 are kept for the schedule sync and visit sweep.
- ``simulator``: a small MLLP HIS for the demo and tests (``guahao his simulate``).
- ``practice``: with the city's ``simulator`` setting, a simulated HIS in the platform's own
  process for each hospital on this adapter without a HIS address (the served demo).
- ``log``/``models``: the message log (both ways) and the messages received.

See ``docs/his-hl7v2.md``.
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from . import log
from .adapter import NAME, Hl7v2His
from .meta import META  # noqa: F401  (the plugin's declaration)

__all__ = ["NAME", "Hl7v2His"]


@hookimpl
def guahao_his_adapters():
    return [Hl7v2His()]


@hookimpl
def guahao_booking_event(city, event, rt):
    # Pushes run without a runtime at hand: remember it for the message log.
    log.remember_runtime(rt)


@hookimpl
def guahao_worker_tasks(rt):
    from .listener import Listeners
    from .practice import PracticeHospitals

    log.remember_runtime(rt)
    return [Listeners(rt).run, PracticeHospitals(rt).run]
