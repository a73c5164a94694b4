"""Practice hospitals: a simulated HIS inside the platform's process for a city's hospitals on
this adapter that have no HIS address, when the city turns ``simulator`` on (the served demo
and trials; never in production).

For each such hospital the worker task (:meth:`PracticeHospitals.run`, started by whatever runs
the plugins' worker tasks: ``guahao worker``, or the served demo itself) starts a
:class:`~.simulator.SimulatedHis` on a free local port and one of our own MLLP listeners for
that hospital on another, and keeps their addresses in this process (``running.address``), where the
adapter finds them. Messages then go both ways exactly as with a real HIS and show in the
hospital's HL7 message log: our SIU^S12…S15 with the HIS's ACK, and, for a booking of the same
day, the HIS's ADT^A04 check-in a few seconds after it accepted the booking (the patient
"arrives"), which checks the booking in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

import hl7

from guahao.plugin_api import CityContext, utcnow

from . import messages
from .listener import Target, hospitals, keep_scanning, serve
from .running import HOST, RUNNING, Practice
from .simulator import SimulatedHis

log = logging.getLogger("guahao.plugins.hl7v2.practice")

SCAN_SECONDS = 10.0
ARRIVES_AFTER_SECONDS = 10.0


class PracticeHis(SimulatedHis):
    """The simulated HIS of one practice hospital: it also checks in, shortly after accepting
    them, the bookings of the city's current day (the patient arrives at the hospital)."""

    def __init__(self, city: CityContext, hospital_code: str):
        super().__init__(HOST, 0, facility=hospital_code)
        self.city = city
        self.listener_port = 0
        self.arrivals: set[asyncio.Task] = set()

    def answer(self, msg: hl7.Message, *, at: datetime | None = None) -> str | None:
        answer = super().answer(msg, at=at)
        mtype = f"{messages.value(msg, 'MSH.F9.R1.C1')}^{messages.value(msg, 'MSH.F9.R1.C2')}"
        if answer is not None and mtype == "SIU^S12" and "|AA|" in answer and self._today(msg):
            task = asyncio.get_running_loop().create_task(self._arrive(messages.value(msg, "SCH.F1.R1.C1")))
            self.arrivals.add(task)
            task.add_done_callback(self.arrivals.discard)
        return answer

    def _today(self, msg: hl7.Message) -> bool:
        start = messages.value(msg, "SCH.F11.R1.C4")[:8]
        return bool(self.listener_port) and start == utcnow().astimezone(self.city.tz).strftime("%Y%m%d")

    async def _arrive(self, booking_id: str) -> None:
        await asyncio.sleep(ARRIVES_AFTER_SECONDS)
        try:
            ack = await self.check_in(HOST, self.listener_port, booking_id=booking_id)
            log.info("practice HIS %s: %s arrived (%s %s)", self.header.sending_facility, booking_id, ack.code, ack.text)
        except Exception as exc:  # our listener is down: the arrival is lost, as at a real desk
            log.warning("practice HIS could not report the arrival of %s: %s", booking_id, exc)


class PracticeHospitals:
    """Keeps one practice HIS and listener per hospital that wants one (worker task)."""

    def __init__(self, rt, *, city_ids: set[int] | None = None):
        self.rt, self.city_ids = rt, city_ids  # city_ids: serve only these (None: every active city)
        self.mine: set[tuple[int, str]] = set()

    async def wanted(self) -> dict[tuple[int, str], Target]:
        if self.rt.settings.production:
            return {}
        return {(t.city_id, t.hospital_code): t for t, settings in await hospitals(self.rt, self.city_ids)
                if settings.get("simulator") and not str(settings.get("host") or "").strip()}

    async def scan(self) -> None:
        wanted = await self.wanted()
        for key in [k for k in self.mine if k not in wanted]:
            await self._stop(key)
        for key, target in wanted.items():
            if key in RUNNING:
                continue
            try:
                his = await PracticeHis(target.city, target.hospital_code).start()
                listener = await serve(self.rt, target, HOST, 0)
            except OSError as exc:  # this one waits for the next scan; the others start
                log.error("hl7v2: the practice HIS of hospital %s cannot start: %s", target.hospital_code, exc)
                continue
            his.listener_port = listener.sockets[0].getsockname()[1]
            RUNNING[key] = Practice(his, listener)
            self.mine.add(key)
            log.info("practice HIS of hospital %s (%s) on %s:%s, our listener on %s", target.hospital_code,
                     target.city.slug, HOST, his.port, his.listener_port)

    async def _stop(self, key: tuple[int, str]) -> None:
        practice = RUNNING.pop(key, None)
        self.mine.discard(key)
        if practice is not None:
            practice.listener.close()
            for task in list(practice.his.arrivals):
                task.cancel()
            await practice.his.stop()

    async def run(self) -> None:
        try:
            await keep_scanning(self.scan, SCAN_SECONDS, "starting the practice hospitals")
        finally:
            for key in list(self.mine):
                with contextlib.suppress(Exception):
                    await self._stop(key)
