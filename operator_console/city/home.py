"""A city's console home: who you are, your scope, and the areas your role may open."""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.models import District, Doctor, Hospital

from ..kit.pages import Console, console_page


async def scope_description(c: Console) -> dict:
    """Names of the principal's hospital, doctor and districts, for the home page."""
    p = c.principal
    out: dict = {"hospital": None, "doctor": None, "districts": []}
    async with c.transaction() as s:
        if p.hospital_id:
            h = await s.get(Hospital, p.hospital_id)
            out["hospital"] = h.name if h else None
        if p.doctor_id:
            d = await s.get(Doctor, p.doctor_id)
            out["doctor"] = d.name if d else None
        if p.district_ids:
            out["districts"] = list((await s.scalars(select(District.name).where(District.id.in_(p.district_ids)))).all())
    return out


@console_page()
async def city_home(c: Console) -> Response:
    return c.render("home.html", scope=await scope_description(c))


def routes() -> list:
    return [Route("/c/{city}/", city_home, methods=["GET"])]
