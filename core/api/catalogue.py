"""Handlers: the public catalogue and availability (lean: one transaction, plain rows)."""

from __future__ import annotations

from guahao.core.catalogue import queries

from .operations import Call


async def districts(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return {"items": await queries.list_districts(s)}


async def hospitals(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return {"items": await queries.list_hospitals(s, district_id=call.query.district_id)}


async def hospital(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return await queries.get_hospital(s, call.params["hospital_id"])


async def departments(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return {"items": await queries.list_departments(s, call.params["hospital_id"])}


async def doctors(call: Call) -> dict:
    q = call.query
    async with call.rt.db.transaction() as s:
        items = await queries.list_doctors(
            s, hospital_id=q.hospital_id, department_id=q.department_id, q=(q.q or "").strip() or None,
            limit=q.limit, offset=q.offset,
        )
    return {"items": items}


async def doctor(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return await queries.get_doctor(s, call.params["doctor_id"])


async def availability(call: Call) -> dict:
    """Remaining units per period, reused for ``availability_cache_seconds`` in this process."""
    q = call.query
    if q.date_from and q.date_to and q.date_to < q.date_from:
        return {"items": []}  # an empty range holds no sessions

    async def load() -> list[dict]:
        async with call.rt.db.transaction() as s:
            return await queries.availability(
                s, department_id=q.department_id, doctor_id=q.doctor_id, date_from=q.date_from, date_to=q.date_to
            )

    key = (call.city.id, q.department_id, q.doctor_id, q.date_from, q.date_to)
    return {"items": await call.rt.availability_cache.get(key, load)}
