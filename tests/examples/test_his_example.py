"""The example external plugin (examples/guahao-his-example), installed with pip beside the
platform, end to end: declared and checked at start, configured through the checked path,
pushing bookings to a hospital server over real HTTP, taking signed arrival reports into its
own table (created by its own migration branch)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import inspect, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, BookingEvent, Hospital
from guahao.core.plugins.loader import discover
from guahao.core.plugins.manager import configure
from guahao.core.plugins.settings import SettingsInvalid
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book, last_period
from tests.core.plugins.probes import make_member
from tests.fakes.live import LiveServer

KEY = "hospital-shared-key-0123456789"


class HospitalServer:
    """The hospital's side: checks each request's signature, dedupes pushes by booking id."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.numbers: dict[str, str] = {}
        self.app = Starlette(routes=[Route("/api/appointments", self.book, methods=["POST"]),
                                     Route("/api/appointments/{id}/cancel", self.cancel, methods=["POST"])])

    async def _verified(self, request: Request) -> dict | None:
        body = await request.body()
        stamp = request.headers.get("X-Guahao-Timestamp", "")
        expected = hmac.new(KEY.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Guahao-Signature", "")):
            return None
        return json.loads(body)

    async def book(self, request: Request) -> JSONResponse:
        payload = await self._verified(request)
        if payload is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        booking_id = payload["booking"]["id"]
        self.received.append(("book", payload))
        number = self.numbers.setdefault(booking_id, f"HIS-{len(self.numbers) + 1:05d}")
        return JSONResponse({"appointment_no": number})

    async def cancel(self, request: Request) -> JSONResponse:
        payload = await self._verified(request)
        if payload is None:
            return JSONResponse({"error": "bad signature"}, status_code=401)
        self.received.append(("cancel", payload))
        return JSONResponse({"appointment_no": self.numbers.get(request.path_params["id"], "")})


@pytest.fixture
def hospital():
    server = HospitalServer()
    with LiveServer(server.app) as live:
        server.url = f"{live.url}/api"
        yield server


def signed(body: bytes, key: str = KEY, at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    return {"X-Guahao-Timestamp": stamp, "content-type": "application/json",
            "X-Guahao-Signature": hmac.new(key.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()}


async def _use_example_his(rt, city, catalogue, hospital) -> object:
    with use_city(city):
        async with rt.db.transaction() as s:
            h = await s.scalar(select(Hospital).where(Hospital.id == catalogue.hospital.id))
            h.his_adapter = "his_example"
    await configure(rt, city, "his_example", settings={"endpoint": hospital.url}, secrets={"signing_key": KEY})
    from guahao.tenants.service import get_city

    return await get_city(rt.db, city.slug)


def test_the_example_is_installed_as_a_third_party_plugin():
    installed = discover().plugins["his_example"]
    assert not installed.builtin and installed.target == "guahao_his_example"
    assert installed.meta.verbose_name == "示例 HIS（JSON）" and installed.meta.category == "his"


async def test_its_own_migration_branch_made_its_table(rt):
    def tables(conn):
        return set(inspect(conn).get_table_names())

    async with rt.db.engine.connect() as conn:
        assert "his_example_arrivals" in await conn.run_sync(tables)


async def test_its_settings_are_checked_before_anything_is_stored(rt, city):
    with pytest.raises(SettingsInvalid) as refused:
        await configure(rt, city, "his_example", settings={"endpoint": "ftp://his"}, secrets={"signing_key": "short"})
    assert set(refused.value.errors) == {"endpoint", "signing_key"}
    plugins = await rt.plugins.for_city(city)
    assert "his_example" not in plugins.names


async def test_a_booking_and_its_cancellation_reach_the_hospital_signed(rt, city, catalogue, hospital):
    city = await _use_example_his(rt, city, catalogue, hospital)
    member = await make_member(rt, city)
    booking = await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)
    assert [(kind, p["booking"]["id"]) for kind, p in hospital.received] == [("book", booking.id)]
    assert hospital.received[0][1]["city"] == city.slug
    with use_city(city):
        async with rt.db.transaction() as s:
            events = (await s.scalars(select(BookingEvent).where(
                BookingEvent.booking_id == booking.id, BookingEvent.kind == "his_pushed"))).all()
    assert [e.data.get("reference") for e in events] == ["HIS-00001"]


async def test_arrivals_check_the_booking_in_once_and_refuse_forgeries(rt, city, catalogue, hospital, client):
    city = await _use_example_his(rt, city, catalogue, hospital)
    member = await make_member(rt, city)
    booking = await book(rt, city, member, last_period(catalogue).id)
    url = f"/c/{city.slug}/plugins/his_example/arrivals"
    body = json.dumps({"arrival_id": "A-1", "booking_id": booking.id}).encode()

    forged = await client.post(url, content=body, headers=signed(body, key="not-the-hospital-key"))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    stale = await client.post(url, content=body, headers=signed(body, at=int(time.time()) - 3600))
    assert stale.status_code == 401

    first = await client.post(url, content=body, headers=signed(body))
    assert first.status_code == 200, first.text
    assert first.json()["booking"]["status"] == "checked_in" and first.json()["duplicate"] is False
    again = await client.post(url, content=body, headers=signed(body))
    assert again.status_code == 200 and again.json()["duplicate"] is True

    for bad in (b"not json", b"{}", json.dumps({"arrival_id": "A-2"}).encode()):
        refused = await client.post(url, content=bad, headers=signed(bad))
        assert refused.status_code == 422 and "error" in refused.json()

    from guahao_his_example import Arrival

    with use_city(city):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(Arrival))).all()
            status = (await s.get(Booking, booking.id)).status
    assert [(r.arrival_id, r.booking_id) for r in rows] == [("A-1", booking.id)]
    assert status == "checked_in"
