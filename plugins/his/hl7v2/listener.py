"""Our MLLP listener: messages a hospital's HIS sends us, each answered with an ACK.

``guahao worker`` runs :meth:`Listeners.run` (hook ``guahao_worker_tasks``): every
``SCAN_SECONDS`` it finds the hospitals on the ``hl7v2`` adapter whose settings give a
``listen_port`` (one port per hospital) and keeps one server per port.

- ``ADT^A04`` (register = check-in): the booking named by PV1-5 (our booking id) or PV1-50
  (the HIS's appointment id from our S12's ACK), among those this HIS accepted from us, is
  checked in through the platform's ``check_in`` service → ``AA``; an unknown booking or one
  that cannot be checked in → ``AE`` with the reason.
- ``SIU^S23`` / ``SIU^S24`` (a doctor's session blocked / unblocked): kept for the schedule
  sync (``pull_schedules``) → ``AA``.
- ``SIU^S26`` (no-show): kept for the visit-status sweep (``pull_visit_status``) → ``AA``; the
  platform has no service that marks a single booking a no-show, the sweep does it. A booking
  this HIS never received from us → ``AE``.
- anything else → ``AR`` (not a message we take).

A message whose control id (MSH-10) was already handled is acknowledged again, not applied twice.
Every message is written to the message log with its ACK code and text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import hl7
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from guahao.plugin_api import CityContext, DomainError, check_in, city_session, utcnow

from . import log as message_log
from . import messages
from .adapter import NAME
from .mllp import ENCODING
from .models import Hl7v2Message, Hl7v2Received

log = logging.getLogger("guahao.plugins.hl7v2.listener")

SCAN_SECONDS = 30.0
IDLE_SECONDS = 300.0  # a connection with no message for this long is closed


@dataclass(frozen=True)
class Target:
    """Who a listening port serves: a city's hospital."""

    city: CityContext = field(compare=False)
    city_id: int
    hospital_id: int
    hospital_code: str


class Inbound:
    """Handles the messages of one hospital's HIS."""

    def __init__(self, rt, target: Target):
        self.rt, self.target = rt, target

    async def handle(self, msg: hl7.Message) -> str:
        """Apply ``msg`` and return its ACK (ER7)."""
        city, hospital_id = self.target.city, self.target.hospital_id
        mid = messages.value(msg, "MSH.F10")[:40]
        mtype = f"{messages.value(msg, 'MSH.F9.R1.C1')}^{messages.value(msg, 'MSH.F9.R1.C2')}"
        booking_id, code, text_ = "", "AA", ""
        try:
            if await self._seen(mid):
                code, text_ = "AA", "已处理（重复消息）"
            elif mtype == "ADT^A04":
                booking_id, code, text_ = await self._check_in(msg, mid)
            elif mtype in ("SIU^S23", "SIU^S24"):
                code, text_ = await self._schedule(msg, mid, blocked=mtype.endswith("S23"))
            elif mtype == "SIU^S26":
                booking_id, code, text_ = await self._no_show(msg, mid)
            else:
                code, text_ = "AR", f"不接收 {mtype} 消息 (unsupported message type)"
        except Exception:
            log.exception("hl7v2 inbound %s %s failed", mtype, mid)
            code, text_ = "AE", "内部错误，请稍后重发 (internal error, send again later)"
        await message_log.record(city, rt=self.rt, hospital_id=hospital_id, direction="in", message_type=mtype[:20],
                                 control_id=mid, booking_id=booking_id[:24], ack_code=code, text=text_)
        return messages.ack_for(msg, code, text_, at=utcnow().astimezone(city.tz))

    async def _seen(self, mid: str) -> bool:
        async with city_session(self.rt, self.target.city) as s:
            found = await s.scalar(select(Hl7v2Message.id).where(
                Hl7v2Message.direction == "in", Hl7v2Message.hospital_id == self.target.hospital_id,
                Hl7v2Message.control_id == mid, Hl7v2Message.ack_code == "AA").limit(1))
        return bool(mid) and found is not None

    async def _our_booking(self, placer: str, filler: str) -> str:
        """The booking a HIS names, among those we sent it: by our id, else by its own id."""
        async with city_session(self.rt, self.target.city) as s:
            q = select(Hl7v2Message.booking_id).where(
                Hl7v2Message.direction == "out", Hl7v2Message.hospital_id == self.target.hospital_id,
                Hl7v2Message.ack_code == "AA")
            if placer:
                found = await s.scalar(q.where(Hl7v2Message.booking_id == placer).limit(1))
                if found:
                    return found
            if filler:
                found = await s.scalar(q.where(Hl7v2Message.reference == filler).limit(1))
                if found:
                    return found
        return ""

    async def _keep(self, mid: str, **row) -> None:
        try:
            async with city_session(self.rt, self.target.city) as s:
                s.add(Hl7v2Received(hospital_id=self.target.hospital_id, hospital_code=self.target.hospital_code,
                                    control_id=mid, **row))
        except IntegrityError:  # the same message again: kept once
            pass

    async def _check_in(self, msg: hl7.Message, mid: str) -> tuple[str, str, str]:
        placer = messages.value(msg, "PV1.F5.R1.C1")
        filler = messages.value(msg, "PV1.F50.R1.C1")
        if not (placer or filler):
            return "", "AE", "未指明预约（PV1-5 / PV1-50） (no booking named)"
        # Only a booking this hospital's HIS accepted from us: a HIS cannot check in another's.
        booking_id = await self._our_booking(placer, filler)
        if not booking_id:
            return placer, "AE", f"not_found: 未知预约 {placer or filler} (unknown booking)"
        try:
            await check_in(self.rt, self.target.city, booking_id, source=f"his:{NAME}")
        except DomainError as exc:
            return booking_id, "AE", f"{exc.code}: {exc.message}"[:200]
        at = messages.parse_ts(messages.value(msg, "EVN.F2"), self.target.city.tz) or utcnow()
        await self._keep(mid, kind="checked_in", booking_id=booking_id, day=at.astimezone(self.target.city.tz).date(),
                         reference=messages.value(msg, "PV1.F19.R1.C1")[:80])
        return booking_id, "AA", "已签到"

    async def _schedule(self, msg: hl7.Message, mid: str, *, blocked: bool) -> tuple[str, str]:
        tz = self.target.city.tz
        start = messages.parse_ts(messages.value(msg, "SCH.F11.R1.C4") or messages.value(msg, "TQ1.F7"), tz)
        end = messages.parse_ts(messages.value(msg, "SCH.F11.R1.C5") or messages.value(msg, "TQ1.F8"), tz)
        doctor = messages.value(msg, "AIP.F3.R1.C1")
        if start is None or not doctor:
            return "AE", "缺少医生（AIP-3）或时间（SCH-11 / TQ1-7） (doctor or time missing)"
        await self._keep(mid, kind="blocked" if blocked else "unblocked", doctor_code=doctor[:40],
                         department_code=messages.value(msg, "AIL.F3.R1.C1")[:20], day=start.astimezone(tz).date(),
                         starts_at=start, ends_at=end, reason=messages.value(msg, "SCH.F6.R1.C2")[:300],
                         reference=messages.value(msg, "SCH.F2.R1.C1")[:80])
        return "AA", "停诊已登记" if blocked else "复诊已登记"

    async def _no_show(self, msg: hl7.Message, mid: str) -> tuple[str, str, str]:
        placer, filler = messages.value(msg, "SCH.F1.R1.C1"), messages.value(msg, "SCH.F2.R1.C1")
        booking_id = await self._our_booking(placer, filler)
        if not booking_id:
            return placer, "AE", f"未知预约 {placer or filler} (unknown booking)"
        tz = self.target.city.tz
        start = messages.parse_ts(messages.value(msg, "SCH.F11.R1.C4"), tz) or utcnow()
        await self._keep(mid, kind="no_show", booking_id=booking_id, day=start.astimezone(tz).date(),
                         reference=filler[:80])
        return booking_id, "AA", "爽约已登记"

    async def client(self, reader, writer) -> None:
        """One connection from the HIS: message, ACK, message, ACK … until it closes."""
        try:
            while True:
                try:
                    msg = await asyncio.wait_for(reader.readmessage(), IDLE_SECONDS)
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
                    break  # closed by the HIS, or idle too long
                except (ValueError, hl7.ParseException) as exc:  # not HL7: nothing to acknowledge
                    log.warning("hl7v2 listener of hospital %s: unreadable message (%s)", self.target.hospital_code, exc)
                    break
                writer.writeblock((await self.handle(msg)).encode(ENCODING))
                await writer.drain()
        finally:
            writer.close()


async def serve(rt, target: Target, host: str, port: int) -> asyncio.AbstractServer:
    """Start listening for one hospital's HIS on ``host:port``."""
    inbound = Inbound(rt, target)
    return await hl7.mllp.start_hl7_server(inbound.client, host, port, encoding=ENCODING, encoding_errors="replace")


class Listeners:
    """Keeps one server per configured ``listen_port`` (worker task)."""

    def __init__(self, rt, *, city_ids: set[int] | None = None):
        self.rt, self.city_ids = rt, city_ids  # city_ids: serve only these (None: every active city)
        self.servers: dict[tuple[str, int], tuple[Target, asyncio.AbstractServer]] = {}

    async def wanted(self) -> dict[tuple[str, int], Target]:
        """The (host, port) each hospital on this adapter with a ``listen_port`` wants served."""
        out: dict[tuple[str, int], Target] = {}
        for target, settings in await hospitals(self.rt, self.city_ids):
            port = int(settings.get("listen_port") or 0)
            if port:
                key = (str(settings.get("listen_host") or "0.0.0.0"), port)
                if key in out:
                    log.error("hl7v2: port %s is set for two hospitals; only %s listens", port, out[key].hospital_code)
                    continue
                out[key] = target
        return out

    async def scan(self) -> None:
        wanted = await self.wanted()
        for key in list(self.servers):
            target, server = self.servers[key]
            if wanted.get(key) != target:
                server.close()
                del self.servers[key]
        for key, target in wanted.items():
            if key not in self.servers:
                try:
                    self.servers[key] = (target, await serve(self.rt, target, *key))
                    log.info("hl7v2: listening on %s:%s for hospital %s of %s", *key, target.hospital_code,
                             target.city.slug)
                except OSError as exc:
                    log.error("hl7v2: cannot listen on %s:%s: %s", *key, exc)

    async def run(self) -> None:
        try:
            await keep_scanning(self.scan, SCAN_SECONDS, "scanning for listeners")
        finally:
            for _, server in self.servers.values():
                server.close()
            self.servers.clear()


async def keep_scanning(scan, seconds: float, what: str) -> None:
    """Call ``scan`` every ``seconds`` until cancelled; a failing scan is logged and the next
    one tries again (a worker task must outlive a bad moment)."""
    while True:
        try:
            await scan()
        except Exception:
            log.exception("hl7v2: %s failed", what)
        await asyncio.sleep(seconds)


async def hospitals(rt, city_ids: set[int] | None = None) -> list[tuple[Target, dict]]:
    """Every hospital on this adapter in an active city that enabled it (of ``city_ids`` only,
    when given), with its settings. One query per database cell finds those hospitals, so a scan
    costs little however many cities the platform holds; only their cities' settings are read."""
    from guahao.tenants.context import platform_scope, use_cell
    from guahao.tenants.models import City
    from guahao.tenants.resolver import city_context

    found: list[tuple[int, int, str]] = []
    with platform_scope("hl7v2: hospitals whose HIS speaks HL7 v2"):
        for cell in rt.db.cell_names:
            with use_cell(cell):
                async with rt.db.transaction() as s:
                    found += [tuple(r) for r in (await s.execute(text(
                        "SELECT h.city_id, h.id, h.code FROM hospitals h JOIN cities c ON c.id = h.city_id"
                        " WHERE h.his_adapter = :a AND c.cell = :cell"), {"a": NAME, "cell": cell})).all()]
        ids = {city_id for city_id, _, _ in found}
        if city_ids is not None:
            ids &= city_ids
        if not ids:
            return []
        async with rt.db.transaction() as s:
            cities = {int(c.id): city_context(c) for c in (await s.scalars(
                select(City).where(City.active.is_(True), City.id.in_(ids)))).all()}
    out = []
    for city_id, hospital_id, code in found:
        city = cities.get(city_id)
        if city is None:
            continue
        plugins = await rt.plugins.for_city(city)
        if plugins.his_adapter(NAME) is None:
            continue
        out.append((Target(city, city.id, hospital_id, code), dict(plugins.settings(NAME, hospital_id))))
    return out


async def close(server: asyncio.AbstractServer) -> None:
    server.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server.wait_closed(), 2)
