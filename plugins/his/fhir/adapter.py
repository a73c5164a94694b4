"""The FHIR R4 HIS adapter: a client of the hospital's own FHIR server.

- schedules: ``Schedule?active=true&_include=Schedule:actor``, then
  ``Slot?schedule=…&start=ge…&start=lt…`` page by page (``mapping.schedule_items``);
- a booking: the Slot of its period (``Practitioner?identifier=`` → ``Schedule?actor=`` →
  ``Slot?schedule=…&start=…``), then ``POST Appointment`` with ``If-None-Exist:
  identifier=<booking system>|<booking id>``, so a push sent twice creates one Appointment;
- a cancellation: the Appointment found by that identifier, ``PUT`` back with
  ``status=cancelled`` and ``cancelationReason``; a move: ``PUT`` with the new Slot and times;
- visits: our Appointments of the day (``Appointment?identifier=<system>|&date=…``) and, when
  ``use_encounters``, the day's Encounters pointing at them;
- health: ``GET metadata`` (and, with SMART, an access token).

A 4xx with an ``OperationOutcome`` refuses a push for good (``HisRejected`` with the server's
text); 5xx, 408/409/412/429, timeouts and refused connections raise :class:`FhirUnavailable`,
and refused SMART credentials :class:`FhirAuthFailed`: the outbox retries both.
Payments, refunds and fee items are not exchanged (see ``docs/his-fhir.md``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date, timedelta
from urllib.parse import urlencode

from fhir.resources.R4B.schedule import Schedule

from guahao.plugin_api import (
    CityContext,
    HisAck,
    HisAdapter,
    HisHealth,
    HisRejected,
    ScheduleItem,
    TransportError,
    VisitStatus,
)

from . import mapping
from .client import FhirAuthFailed, FhirClient, FhirRefused, FhirUnavailable
from .meta import ID_NUMBER_SYSTEM, Settings

NAME = "fhir"
ACTOR_KINDS = ("Practitioner", "HealthcareService", "Location")
CHUNK = 40  # schedules per Slot search (the URL stays short)


def effective(settings: Mapping) -> dict:
    """The settings with the declared defaults filled in where a value is missing."""
    return {**Settings().model_dump(), **{k: v for k, v in settings.items() if v is not None and v != ""}}


class FhirHis(HisAdapter):
    """Schedules, bookings, moves, cancellations and visit outcomes over FHIR R4 REST."""

    name = NAME
    verbose_name = "FHIR R4"
    operations = frozenset({"book", "cancel", "move", "schedules", "visits", "health"})
    supports_pull = True

    def client(self, settings: Mapping, secrets: Mapping) -> FhirClient:
        return FhirClient(settings, secrets)

    # --- schedules ----------------------------------------------------------------------

    async def pull_schedules(
        self, city: CityContext, hospital_code: str, date_from: date, date_to: date, settings: Mapping, secrets: Mapping
    ) -> list[ScheduleItem]:
        s = effective(settings)
        lo = mapping.stamp(mapping.day_start(date_from, city.tz), city.tz)
        hi = mapping.stamp(mapping.day_start(date_to + timedelta(days=1), city.tz), city.tz)
        async with self.client(s, secrets) as fhir:
            found = await fhir.all("Schedule", {"active": "true", "_include": "Schedule:actor"})
            schedules = [r for r in found if r.get("resourceType") == "Schedule" and r.get("id") and mapping.valid(Schedule, r)]
            actors = {f"{r.get('resourceType')}/{r.get('id')}": r for r in found if r.get("resourceType") != "Schedule"}
            for schedule in schedules:  # a server that ignores _include: read the actors one by one
                for actor in schedule.get("actor") or []:
                    ref = str(actor.get("reference") or "")
                    if ref.split("/", 1)[0] in ACTOR_KINDS and ref not in actors:
                        try:
                            actors[ref] = await fhir.read(ref)
                        except FhirRefused:
                            actors[ref] = {}
            refs = [f"Schedule/{r['id']}" for r in schedules]
            slots: list[dict] = []
            for i in range(0, len(refs), CHUNK):
                slots += await fhir.all("Slot", {"schedule": ",".join(refs[i:i + CHUNK]), "start": [f"ge{lo}", f"lt{hi}"]})
        return mapping.schedule_items(city.tz, schedules, actors, slots, s, date_from, date_to)

    # --- pushes -------------------------------------------------------------------------

    async def push_booking(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        s = effective(settings)
        async with self.client(s, secrets) as fhir:
            try:
                slot, practitioner = await self._slot_for(fhir, city, booking, s)
                patient = await self._patient(fhir, booking, s)
                appointment = mapping.new_appointment(booking, city.tz, s, slot=slot, practitioner=practitioner,
                                                      patient_id=patient)
                query = urlencode({"identifier": f"{s['booking_system']}|{booking['id']}"})
                saved = await fhir.call("POST", "Appointment", body=appointment,
                                        headers={"If-None-Exist": query, "Prefer": "return=representation"})
            except FhirRefused as exc:
                raise HisRejected(str(exc)) from None
        ref = f"Appointment/{saved.get('id')}" if saved.get("id") else ""
        return HisAck(reference=ref, message=f"FHIR {ref or 'Appointment'} {saved.get('status') or 'booked'}")

    async def push_cancellation(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        s = effective(settings)
        reason = str(booking.get("cancel_reason") or "预约已取消")
        async with self.client(s, secrets) as fhir:
            try:
                current = await self._appointment(fhir, booking, s)
                if current is None:
                    return HisAck(message="the FHIR server has no Appointment of this booking: nothing to cancel")
                ref = f"Appointment/{current['id']}"
                if current.get("status") == "cancelled":
                    return HisAck(reference=ref, message="already cancelled")
                await fhir.call("PUT", ref, body=mapping.cancelled(current, reason), headers=_if_match(current))
            except FhirRefused as exc:
                raise HisRejected(str(exc)) from None
        return HisAck(reference=ref, message=f"FHIR {ref} cancelled")

    async def push_move(self, city, booking: dict, previous: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        s = effective(settings)
        async with self.client(s, secrets) as fhir:
            try:
                current = await self._appointment(fhir, booking, s)
                if current is not None:  # moved there and booked again, even if the HIS had cancelled it
                    slot, practitioner = await self._slot_for(fhir, city, booking, s)
                    ref = f"Appointment/{current['id']}"
                    body = mapping.moved(current, booking, city.tz, slot=slot, practitioner=practitioner)
                    await fhir.call("PUT", ref, body=body, headers=_if_match(current))
            except FhirRefused as exc:
                raise HisRejected(str(exc)) from None
        if current is None:  # the HIS never had it: book the new period
            return await self.push_booking(city, booking, settings, secrets)
        return HisAck(reference=ref, message=f"FHIR {ref} moved to {booking.get('date')} {booking.get('start')}")

    async def _appointment(self, fhir: FhirClient, booking: Mapping, s: Mapping) -> dict | None:
        found = await fhir.all("Appointment", {"identifier": f"{s['booking_system']}|{booking['id']}"})
        found = [r for r in found if r.get("resourceType") == "Appointment"]
        if len(found) > 1:
            raise FhirRefused(f"the FHIR server has {len(found)} Appointments with booking id {booking['id']}")
        return found[0] if found else None

    async def _slot_for(self, fhir: FhirClient, city, booking: Mapping, s: Mapping) -> tuple[str, str]:
        """The Slot of the booking's period and its doctor's Practitioner reference."""
        code = str((booking.get("his") or {}).get("doctor_code") or f"D{booking.get('doctor_id')}")
        codes = {code, code[1:]} if code[:1] in "Dd" and code[1:].isdigit() else {code}
        system = s["doctor_system"]
        people = await fhir.all("Practitioner", {"identifier": ",".join(f"{system}|{c}" for c in sorted(codes))})
        name = str(booking.get("doctor_name") or "")
        if not people and name:
            people = [p for p in await fhir.all("Practitioner", {"name": name}) if mapping.human_name(p) == name]
        people = [p for p in people if p.get("resourceType") == "Practitioner" and p.get("id")]
        if not people:
            raise FhirRefused(f"the FHIR server has no Practitioner for doctor {code} ({name})")
        refs = [f"Practitioner/{p['id']}" for p in people]
        schedules = await fhir.all("Schedule", {"actor": ",".join(refs)})
        ids = [f"Schedule/{r['id']}" for r in schedules if r.get("resourceType") == "Schedule" and r.get("id")]
        start, _ = mapping.booking_window(booking, city.tz)
        if ids:
            slots = await fhir.all("Slot", {"schedule": ",".join(ids), "start": [
                f"ge{mapping.stamp(start, city.tz)}", f"lt{mapping.stamp(start + timedelta(minutes=1), city.tz)}"]})
            usable = [x for x in slots if x.get("status") in ("free", "busy", "busy-tentative")
                      and mapping.instant(x["start"]) == start]
            usable.sort(key=lambda x: x.get("status") != "free")
            if usable:
                return f"Slot/{usable[0]['id']}", refs[0]
        raise FhirRefused(f"the FHIR server has no open Slot for doctor {code} at {mapping.stamp(start, city.tz)}")

    async def _patient(self, fhir: FhirClient, booking: Mapping, s: Mapping) -> str:
        """``Patient/<id>`` when the server knows the patient by ID number (else ``""``: the
        Appointment then names the patient by identifier only). Searched with ``POST _search``:
        the ID number stays out of URLs."""
        number = str((booking.get("patient") or {}).get("id_number") or "")
        if s.get("patient_identity") != "full_id" or not number:
            return ""
        try:
            found = await fhir.all("Patient", {"identifier": f"{ID_NUMBER_SYSTEM}|{number}"}, post=True)
        except FhirRefused:  # a server that does not search Patients
            return ""
        found = [p for p in found if p.get("resourceType") == "Patient" and p.get("id")]
        return f"Patient/{found[0]['id']}" if len(found) == 1 else ""

    # --- visits -------------------------------------------------------------------------

    async def pull_visit_status(self, city, hospital_code: str, day: date, settings: Mapping,
                                secrets: Mapping) -> list[VisitStatus]:
        s = effective(settings)
        span = [f"ge{mapping.stamp(mapping.day_start(day, city.tz), city.tz)}",
                f"lt{mapping.stamp(mapping.day_start(day + timedelta(days=1), city.tz), city.tz)}"]
        async with self.client(s, secrets) as fhir:
            appointments = await fhir.all("Appointment", {"identifier": f"{s['booking_system']}|", "date": span})
            encounters = await fhir.all("Encounter", {"date": span}) if s.get("use_encounters") else []
        return mapping.visits([a for a in appointments if a.get("resourceType") == "Appointment"],
                              [e for e in encounters if e.get("resourceType") == "Encounter"], s["booking_system"])

    # --- health -------------------------------------------------------------------------

    async def health(self, city, settings: Mapping, secrets: Mapping) -> HisHealth:
        """``GET metadata``: a CapabilityStatement of FHIR 4.x; with SMART, a token as well."""
        s = effective(settings)
        started = time.perf_counter()
        try:
            async with self.client(s, secrets) as fhir:
                cap = await fhir.call("GET", "metadata", auth=False)
                ms = round((time.perf_counter() - started) * 1000, 1)
                version = str(cap.get("fhirVersion") or "")
                if cap.get("resourceType") != "CapabilityStatement" or not version.startswith("4."):
                    return HisHealth(ok=False, detail=f"{fhir.base}metadata is not a FHIR R4 CapabilityStatement "
                                                      f"(fhirVersion {version or '?'})", latency_ms=ms)
                software = str((cap.get("software") or {}).get("name") or "FHIR server")
                if fhir.smart is not None:
                    await fhir.smart.access_token()
        except (FhirUnavailable, FhirRefused, FhirAuthFailed, TransportError) as exc:
            where = str(s.get("base_url") or "").strip()
            return HisHealth(ok=False, detail=f"{where} {exc}" if where else str(exc))
        auth = {"smart": "SMART token ok", "bearer": "bearer token"}.get(str(s.get("auth")), "no auth")
        return HisHealth(ok=True, detail=f"{software}, FHIR {version}, {auth}", latency_ms=ms)


def _if_match(resource: Mapping) -> dict[str, str]:
    version = (resource.get("meta") or {}).get("versionId")
    return {"If-Match": f'W/"{version}"'} if version else {}
