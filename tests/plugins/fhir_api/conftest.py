"""A city with the FHIR API enabled, the test catalogue (第一人民医院 H1, 呼吸内科, doctors 王建国
and 李秀英, morning sessions on the next three days, two periods of two public units each), a
registered client with every scope, and helpers that call the API as a third party would."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from guahao.core.plugins.manager import configure
from guahao.plugins.channels.fhir_api import clients
from tests.factories import Catalogue, make_catalogue


@dataclass
class FhirCity:
    rt: object
    cat: Catalogue
    client: object
    client_id: str
    secret: str

    @property
    def city(self):
        return self.cat.city

    @property
    def base(self) -> str:
        return f"/fhir/{self.city.slug}"

    async def token(self, client_id: str | None = None, secret: str | None = None, **form) -> str:
        r = await self.client.post(f"{self.base}/token", data={"grant_type": "client_credentials", **form},
                                   auth=(client_id or self.client_id, secret or self.secret))
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    async def get(self, path: str, token: str | None, **params):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.get(f"{self.base}/{path}", params=params, headers=headers)

    async def op(self, name: str, token: str | None, parameters: list[dict]):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.post(f"{self.base}/Appointment/${name}", headers=headers,
                                      json={"resourceType": "Parameters", "parameter": parameters})


async def enable_fhir(rt, city, **settings) -> None:
    await configure(rt, city, "fhir_api", settings=settings, secrets={})


@pytest.fixture
async def fhir_city(rt, city, client) -> FhirCity:
    cat = await make_catalogue(rt, city)
    await enable_fhir(rt, city, booking_phone="12320")
    row, secret = await clients.add_client(rt, city, "健康助手", daily_quota=5)
    return FhirCity(rt, cat, client, row.client_id, secret)


_numbers = iter(range(100, 1000))


async def make_member(rt, city, *, name: str = "张三"):
    """A registered real-name member with a resident ID number, stored as the members service
    stores it (encrypted, keyed hash, masked); returns ``(member, id number)``."""
    from datetime import date

    from guahao.core.models import Member
    from guahao.tenants.context import use_city
    from guahao.tenants.crypto import cipher

    n = next(_numbers)
    number = f"11010119900307{n}X"
    with use_city(city):
        async with rt.db.transaction() as s:
            m = Member(name=name, id_number_encrypted=cipher().encrypt(number), id_number_hash=cipher().lookup_hash(number),
                       id_number_masked=number[:4] + "*" * 10 + number[-4:], birth_date=date(1990, 3, 7), sex="M",
                       phone=f"139{n:08d}", password_hash="x")
            s.add(m)
            await s.flush()
    return m, number


def patient(number: str, name: str) -> dict:
    """The ``patient-resource`` parameter of ``$book``."""
    return {"name": "patient-resource", "resource": {
        "resourceType": "Patient", "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": number}],
        "name": [{"text": name}]}}


def valid(data: dict):
    """``data`` validated by the fhir.resources R4B model of its resourceType (raises if not)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(data["resourceType"]).model_validate(data)
