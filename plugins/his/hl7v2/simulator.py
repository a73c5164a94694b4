"""A small HIS that speaks HL7 v2.5 over MLLP, for the demo and for tests (``guahao his simulate``).

It listens, logs and acknowledges each message: ``AA`` with its own appointment id (an ``SCH``
after the ``MSA`` carries SCH-1 and SCH-2) by default, ``AE`` or ``AR`` for the next N messages
when told (:meth:`SimulatedHis.error_next`, :meth:`SimulatedHis.reject_next`), or no answer at all
(:meth:`SimulatedHis.silence_next`). A message whose control id (MSH-10) it has seen is answered
with the same ACK again and not applied twice. It keeps the appointments it was told about and
can send our listener a check-in (ADT^A04), a blocked or unblocked session (SIU^S23/S24) or a
no-show (SIU^S26).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime

import hl7

from guahao.plugin_api import utcnow

from . import messages
from .mllp import ENCODING, exchange

log = logging.getLogger("guahao.plugins.hl7v2.simulator")

HEADER = messages.Header("HIS", "HOSP", "GUAHAO", "GUAHAO")


@dataclass
class Appointment:
    placer_id: str
    filler_id: str
    status: str
    events: list[str] = field(default_factory=list)
    start: str = ""
    doctor: str = ""
    patient_ids: str = ""
    payments: list[str] = field(default_factory=list)


@dataclass
class Received:
    control_id: str
    message_type: str
    ack_code: str
    text: str
    er7: str


class SimulatedHis:
    """An MLLP HIS on ``host:port`` (port 0: any free port, see :attr:`port` after start)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, facility: str = "HOSP", echo=None):
        self.host, self._port = host, port
        self.echo = echo  # called with one line per message (the command prints them)
        self.header = messages.Header("HIS", facility, "GUAHAO", "GUAHAO")
        self.appointments: dict[str, Appointment] = {}
        self.received: list[Received] = []
        self._acks: dict[str, str] = {}
        self._plan: list[tuple[str, str]] = []  # (code, text) for the next messages; code "" = silence
        self._ids = itertools.count(1)
        self._server: asyncio.AbstractServer | None = None
        self.out_ids = itertools.count(1)

    # --- control -----------------------------------------------------------------------

    def reject_next(self, n: int = 1, text: str = "患者信息不符，拒绝预约") -> None:
        self._plan += [("AR", text)] * n

    def error_next(self, n: int = 1, text: str = "HIS 数据库忙，请稍后重试") -> None:
        self._plan += [("AE", text)] * n

    def silence_next(self, n: int = 1) -> None:
        self._plan += [("", "")] * n

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self._port

    async def start(self) -> "SimulatedHis":
        self._server = await hl7.mllp.start_hl7_server(self._client, self.host, self._port, encoding=ENCODING,
                                                       encoding_errors="replace")
        log.info("simulated HIS listening on %s:%s", self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._port = self.port  # restart on the same port
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def __aenter__(self) -> "SimulatedHis":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def messages_of(self, message_type: str) -> list[Received]:
        return [r for r in self.received if r.message_type == message_type]

    # --- receiving ---------------------------------------------------------------------

    async def _client(self, reader, writer) -> None:
        try:
            while not reader.at_eof():
                try:
                    msg = await reader.readmessage()
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                answer = self.answer(msg)
                if answer is None:
                    continue  # told to stay silent: the sender times out
                writer.writeblock(answer.encode(ENCODING))
                await writer.drain()
        except Exception:  # a bad message must not stop the simulator
            log.exception("simulated HIS could not handle a message")
        finally:
            writer.close()

    def answer(self, msg: hl7.Message, *, at: datetime | None = None) -> str | None:
        """The ACK for ``msg`` (``None``: no answer), after applying it."""
        mid = messages.value(msg, "MSH.F10")
        mtype = f"{messages.value(msg, 'MSH.F9.R1.C1')}^{messages.value(msg, 'MSH.F9.R1.C2')}"
        if mid in self._acks:  # a repeat: the same answer, applied once
            self.received.append(Received(mid, mtype, "dup", "repeat of a message already handled", str(msg)))
            return self._acks[mid]
        code, text = self._plan.pop(0) if self._plan else ("AA", "")
        if code == "":
            self.received.append(Received(mid, mtype, "", "no answer (silenced)", str(msg)))
            return None
        extra: list[str] = []
        if code == "AA":
            text, extra = self._apply(msg, mtype)
        answer = messages.ack_for(msg, code, text, at=at or utcnow(), extra=extra)
        self.received.append(Received(mid, mtype, code, text, str(msg)))
        if code == "AA":
            self._acks[mid] = answer
        log.info("simulated HIS: %s %s → %s %s", mtype, mid, code, text)
        if self.echo is not None:
            placer = messages.value(msg, "SCH.F1.R1.C1") or messages.value(msg, "PV1.F5.R1.C1")
            self.echo(f"{(at or utcnow()):%H:%M:%S} ← {mtype} {mid} {placer} → {code} {text}".rstrip())
        return answer

    def _apply(self, msg: hl7.Message, mtype: str) -> tuple[str, list[str]]:
        if not mtype.startswith("SIU^"):
            return "已接收", []
        event = mtype.split("^")[1]
        placer = messages.value(msg, "SCH.F1.R1.C1")
        appt = self.appointments.get(placer)
        if appt is None:
            appt = Appointment(placer, f"HIS{next(self._ids):06d}", "Booked")
            self.appointments[placer] = appt
        appt.events.append(event)
        appt.status = messages.value(msg, "SCH.F25") or appt.status
        appt.start = messages.value(msg, "SCH.F11.R1.C4")
        appt.doctor = messages.value(msg, "AIP.F3.R1.C1")
        appt.patient_ids = messages.value(msg, "PID.F3")
        for seg in msg.segments("ZPM") if any(str(s[0]) == "ZPM" for s in msg) else []:
            appt.payments.append(f"{seg[2]}:{seg[5]}:{seg[6]}")
        words = {"S12": "预约已登记", "S13": "改约已登记", "S14": "修改已登记", "S15": "预约已取消", "S26": "爽约已登记"}
        sch = messages.segment("SCH", [placer, messages.NAMESPACE], [appt.filler_id, "HIS"])
        return words.get(event, "已接收"), [sch]

    # --- sending to the platform's listener ----------------------------------------------

    def _next_id(self) -> str:
        return f"HIS{next(self.out_ids):08d}"

    async def send(self, host: str, port: int, er7: str, *, timeout: float = 5.0) -> messages.Ack:
        answer, _ = await exchange(host, port, er7, timeout=timeout)
        return messages.read_ack(answer)

    async def check_in(self, host: str, port: int, *, booking_id: str = "", filler_id: str = "",
                       at: datetime | None = None) -> messages.Ack:
        """ADT^A04 for our booking (by its id, or by the HIS's own appointment id)."""
        if not filler_id and booking_id in self.appointments:
            filler_id = self.appointments[booking_id].filler_id
        er7 = messages.adt_a04(self.header, message_id=self._next_id(), at=at or utcnow(), booking_id=booking_id,
                               visit_number=f"V{next(self._ids):06d}", filler_id=filler_id)
        return await self.send(host, port, er7)

    async def block(self, host: str, port: int, *, doctor_code: str, start: datetime, end: datetime,
                    reason: str = "医生停诊", department_code: str = "", unblock: bool = False) -> messages.Ack:
        """SIU^S23 (or S24 with ``unblock``) for a doctor's session."""
        er7 = messages.siu_block("S24" if unblock else "S23", self.header, message_id=self._next_id(), at=utcnow(),
                                 doctor_code=doctor_code, department_code=department_code, start=start, end=end,
                                 reason=reason, filler_id=f"SESS-{doctor_code}-{start:%Y%m%d%H}")
        return await self.send(host, port, er7)

    async def no_show(self, host: str, port: int, *, booking_id: str) -> messages.Ack:
        er7 = messages.siu_no_show(self.header, message_id=self._next_id(), at=utcnow(), booking_id=booking_id)
        return await self.send(host, port, er7)


async def serve(host: str, port: int, *, reject_next: int = 0, error_next: int = 0) -> None:
    """Run a simulated HIS until cancelled (``guahao his simulate``)."""
    his = SimulatedHis(host, port, echo=lambda line: print(line, flush=True))
    his.reject_next(reject_next)
    his.error_next(error_next)
    await his.start()
    print(f"simulated HIS (HL7 v2.5, MLLP) listening on {host}:{his.port}; Ctrl-C stops it", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await his.stop()
