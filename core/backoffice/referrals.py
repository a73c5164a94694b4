"""Bookings into the reserved pools: in-clinic follow-ups (诊间预约, R5.7) and community
referrals (社区转诊, R5.8).

Both go through the booking engine with the pool's own channel (``clinic`` / ``referral``,
see ``core.booking.rules.RESERVED_POOL_CHANNELS``), so every member rule still applies; only
the public release time does not (reserved units are bookable before public release).
A referral is also a ``Referral`` row naming the referring centre, which the booking's status
then tracks to the visit; its ``created_by`` is ``referral:<centre id>:<staff id>``.
"""

from __future__ import annotations

from sqlalchemy import select

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.booking import engine, events, service
from guahao.core.booking.views import booking_view
from guahao.core.models import Booking, HospitalKind, PoolKind, Referral
from guahao.tenants.context import require_city

from . import errors, scope

NOTE_MAX = 500


async def _reserve(s, checks, *, member_id: int, period_id: int, pool: PoolKind, created_by: str) -> Booking:
    return await engine.reserve(
        s, member_id=member_id, period_id=period_id, channel=str(pool), pool=str(pool), actor=created_by,
        extra_checks=checks,
    )


async def book_in_clinic(
    rt, *, doctor_id: int, member_id: int, period_id: int, actor: Actor, hospital_id: int | None = None
) -> dict:
    """A doctor books a patient's follow-up into the ``clinic`` pool of one of their own
    sessions still ahead; the booking view."""
    checks = await service.booking_checks(rt, require_city())  # before the transaction: it may read
    async with rt.db.transaction() as s:
        _period, cs = await scope.period_with_session(s, period_id, hospital_id)
        if cs.doctor_id != doctor_id:
            raise errors.not_own_session(doctor_id)
        booking = await _reserve(
            s, checks, member_id=member_id, period_id=period_id, pool=PoolKind.clinic,
            created_by=f"clinic:{doctor_id}:{actor.id or ''}",
        )
        audit.record(s, actor, "clinic.book", target_type="booking", target_id=booking.id,
                     summary=f"诊间预约 {booking.id}", after={"period_id": period_id, "member_id": member_id})
        await events.write(s)
        return (await booking_view(s, booking)).model_dump(mode="json")


async def book_referral(
    rt, *, centre_id: int, member_id: int, period_id: int, actor: Actor, note: str = ""
) -> dict:
    """A community centre's clerk books a patient into a hospital's ``referral`` pool; the
    booking view (the ``Referral`` row records the centre, the clerk and the note)."""
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise errors.invalid("note", f"转诊说明最多 {NOTE_MAX} 个字。", code="note_too_long")
    checks = await service.booking_checks(rt, require_city())
    async with rt.db.transaction() as s:
        centre = await scope.hospital(s, centre_id)
        if centre.kind != HospitalKind.community:
            raise errors.not_a_centre(centre_id)
        _period, cs = await scope.period_with_session(s, period_id, None)
        if cs.hospital_id == centre_id:
            raise errors.invalid("period_id", "不能转诊到本中心，请选择上级医院的号源。", code="same_hospital")
        booking = await _reserve(
            s, checks, member_id=member_id, period_id=period_id, pool=PoolKind.referral,
            created_by=f"referral:{centre_id}:{actor.id or ''}",
        )
        s.add(Referral(booking_id=booking.id, centre_id=centre_id, hospital_id=cs.hospital_id, member_id=member_id,
                       staff_id=actor.id, note=text))
        audit.record(s, actor, "referral.book", target_type="booking", target_id=booking.id,
                     summary=f"社区转诊预约 {booking.id}", after={"centre_id": centre_id, "period_id": period_id})
        await events.write(s)
        return (await booking_view(s, booking)).model_dump(mode="json")


async def list_referrals(
    rt, *, centre_id: int | None = None, hospital_id: int | None = None, limit: int = 100
) -> list[tuple[Referral, Booking]]:
    """Referrals newest first, with their bookings (whose status says whether the patient came)."""
    stmt = select(Referral, Booking).join(Booking, Booking.id == Referral.booking_id)
    if centre_id is not None:
        stmt = stmt.where(Referral.centre_id == centre_id)
    if hospital_id is not None:
        stmt = stmt.where(Referral.hospital_id == hospital_id)
    async with rt.db.transaction() as s:
        rows = await s.execute(stmt.order_by(Referral.id.desc()).limit(max(1, min(limit, 500))))
        return [(r, b) for r, b in rows]
