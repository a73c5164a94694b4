"""Third-party applications of the FHIR scheduling API (R7.4), for the city's administrators:
the registered clients with their scopes, daily booking quota, rate and bookings today; add one
(its secret is shown once, on the answer to the form, and kept only as a hash); disable or
enable one (a disabled client's tokens stop at once). Each change is in the audit log.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.audit import record
from guahao.core.errors import DomainError
from guahao.plugins.channels.fhir_api import clients as service
from guahao.plugins.channels.fhir_api.throttle import bookings_today

from ..kit.pages import Console, console_page

PLUGIN = "fhir_api"


async def _page(c: Console, *, status: int = 200, error: str | None = None, created=None, secret: str = "") -> Response:
    assert c.city is not None
    enabled = PLUGIN in (await c.rt.plugins.for_city(c.city)).names
    rows = await service.list_clients(c.rt, c.city)
    today = {r.client_id: await bookings_today(c.rt, c.city, r.client_id) for r in rows}
    return c.render("api_clients.html", status=status, rows=rows, today=today, scopes=service.SCOPES, enabled=enabled,
                    error=error, created=created, secret=secret, form=c.form, base=f"/fhir/{c.city.slug}")


@console_page("city.configure")
async def client_list(c: Console) -> Response:
    return await _page(c)


@console_page("city.configure")
async def client_add(c: Console) -> Response:
    assert c.city is not None
    quota, rate = c.int_field("daily_quota"), c.int_field("rate_per_minute")
    try:
        row, secret = await service.add_client(
            c.rt, c.city, c.form.get("name", ""), scopes=c.form_lists.get("scope", []),
            daily_quota=100 if quota is None else quota, rate_per_minute=120 if rate is None else rate,
        )
    except DomainError as exc:
        return await _page(c, status=exc.status, error=c.refusal(exc))
    async with c.transaction() as s:
        record(s, c.actor(), "fhir_client.add", target_type="fhir_client", target_id=row.client_id,
               summary=row.name, after={"scopes": row.scopes, "daily_quota": row.daily_quota,
                                        "rate_per_minute": row.rate_per_minute})
    return await _page(c, created=row, secret=secret)


def _set_active(active: bool):
    @console_page("city.configure")
    async def act(c: Console) -> Response:
        assert c.city is not None
        client_id = c.request.path_params["client_id"]
        if not await service.set_active(c.rt, c.city, client_id, active):
            return c.error(DomainError("not_found", "没有这个应用。/ No such application.", status=404))
        async with c.transaction() as s:
            record(s, c.actor(), "fhir_client.enable" if active else "fhir_client.disable", target_type="fhir_client",
                   target_id=client_id)
        return c.redirect("api-clients", flash=c._("The application is enabled.") if active
                          else c._("The application is disabled; its tokens no longer work."))

    return act


def routes() -> list:
    return [
        Route("/c/{city}/api-clients", client_list, methods=["GET"]),
        Route("/c/{city}/api-clients", client_add, methods=["POST"]),
        Route("/c/{city}/api-clients/{client_id}/disable", _set_active(False), methods=["POST"]),
        Route("/c/{city}/api-clients/{client_id}/enable", _set_active(True), methods=["POST"]),
    ]
