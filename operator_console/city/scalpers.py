"""Suspected scalpers (R4.4): accounts registered in clusters from one address or browser, and
members who book and soon cancel, for the city's administrators (and the vendor). Members are
shown masked; addresses masked; devices only by the start of a keyed hash. A list to act on
with the call centre and the hospitals: nothing is changed from here.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import scalpers as service

from ..kit.pages import Console, console_page

WINDOWS = (1, 7, 30)  # days the page looks back


@console_page("scalpers.view")
async def scalper_list(c: Console) -> Response:
    days = c.int_field("days")
    days = days if days in WINDOWS else 7
    async with c.transaction() as s:
        clusters = await service.clusters(s, days=days)
        quick = await service.book_then_cancel(s, days=days)
    return c.render("scalpers.html", clusters=clusters, quick=quick, days=days, windows=WINDOWS, tz=c.city.tz,
                    min_cluster=service.MIN_CLUSTER, min_quick=service.MIN_QUICK_CANCELS,
                    quick_minutes=int(service.QUICK_CANCEL.total_seconds() // 60))


def routes() -> list:
    return [Route("/c/{city}/scalpers", scalper_list, methods=["GET"])]
