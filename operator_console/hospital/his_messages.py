"""A hospital's HL7 messages both ways (the ``hl7v2`` HIS adapter's message log): the last
messages sent to its HIS and received from it, each with its ACK code and text. Read only;
hospital admins see their own hospital's, city admins any hospital's."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import NotFound
from guahao.plugins.his.hl7v2 import log as hl7_log

from ..kit.pages import Console, console_page

PLUGIN = "hl7v2"
LIMIT = 200


@console_page("hospital.manage")
async def his_messages(c: Console) -> Response:
    async with c.transaction() as s:
        hospital = await c.check_hospital(s, c.request.path_params["id"])
    plugins = await c.rt.plugins.for_city(c.city)
    if PLUGIN not in plugins.names:
        raise NotFound("plugin", code="plugin_not_found")
    rows = await hl7_log.recent(c.rt, c.city, hospital.id, limit=LIMIT)
    return c.render("hospital/his_messages.html", hospital=hospital, rows=rows, tz=c.city.tz, limit=LIMIT,
                    adapter=hospital.his_adapter)


def routes() -> list:
    return [Route("/c/{city}/catalogue/{id:int}/plugins/hl7v2/messages", his_messages, methods=["GET"])]
