"""A plugin's own API under a top-level prefix (``guahao_api_routes``): mounted at
``/{prefix}/{city}/`` with the city resolved from the path; a prefix the platform uses, or one
that is not a plain path segment, is refused and the plugin's routes are left out."""

from __future__ import annotations

from types import SimpleNamespace

import pluggy
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from guahao.core import hookspecs
from guahao.core.plugins.routes import CityApi, plugin_routes


def _rt_with(*plugins):
    pm = pluggy.PluginManager("guahao")
    pm.add_hookspecs(hookspecs)
    for name, prefix in plugins:
        module = SimpleNamespace(guahao_api_routes=hookspecs.hookimpl(
            lambda prefix=prefix: (prefix, [Route("/ping", lambda request: PlainTextResponse("pong"))])))
        pm.register(module, name=name)
    return SimpleNamespace(plugins=SimpleNamespace(pm=pm))


def test_prefixes_are_mounted_or_refused():
    mounts = plugin_routes(_rt_with(("good", "fhir"), ("platform", "api"), ("odd", "a/b"), ("empty", "")))
    assert [(m.path, m.app.__class__) for m in mounts if isinstance(m, Mount)] == [("/fhir/{city}", CityApi)]


async def test_the_city_comes_from_the_path(fhir_city):
    fc = fhir_city
    r = await fc.client.get(f"{fc.base}/metadata", headers={"Host": "elsewhere.example"})
    assert r.status_code == 200 and fc.city.name in r.json()["implementation"]["description"]
    assert (await fc.client.get("/fhir/bad%20slug/metadata")).status_code == 404


async def test_another_clients_appointment_is_not_found(fhir_city):
    from guahao.plugins.channels.fhir_api import clients

    from .conftest import make_member, patient, valid
    from .test_operations import day_range

    fc = fhir_city
    _, number = await make_member(fc.rt, fc.city)
    token = await fc.token()
    first = valid((await fc.op("find", token, day_range(fc, 1))).json()).entry[0].resource
    booked = await fc.op("book", token, [{"name": "appointment-reference",
                                          "valueReference": {"reference": f"Appointment/{first.id}"}},
                                         patient(number, "张三")])
    ref = valid(booked.json()).entry[0].resource.id
    row, secret = await clients.add_client(fc.rt, fc.city, "别的应用")
    other = await fc.token(row.client_id, secret)
    assert (await fc.get(f"Appointment/{ref}", other)).status_code == 404
    assert valid((await fc.get("Appointment", other)).json()).total == 0
    cancel = await fc.op("book", other, [{"name": "appointment-resource", "resource": {
        "resourceType": "Appointment", "id": ref, "status": "cancelled",
        "participant": [{"actor": {"display": "x"}, "status": "declined"}]}}])
    assert cancel.status_code == 404
    assert (await fc.get(f"Appointment/{ref}", token)).json()["status"] == "booked"
