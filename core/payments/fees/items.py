"""What a member owes at the hospitals they visited: the fee items each hospital's HIS reports
(``HisAdapter.pull_fee_items``), minus what the member already paid through the platform.
Only a HIS that both reports fee items and takes payment messages offers them: a payment the
hospital would never hear of would leave the items owed at its cashier.

A hospital is asked when the member has a visit there that may carry charges: a booking checked
in in the last :data:`LOOKBACK_DAYS` days, or one of today. A HIS that does not
report fee items is not asked; one that fails is reported as unavailable for that hospital
(the others still show)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from guahao.core.models import Booking, BookingStatus, FeeOrder, Hospital, Member
from guahao.core.plugins.interfaces import FeeItem
from guahao.core.plugins.manager import attach_runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city
from guahao.tenants.crypto import cipher

log = logging.getLogger("guahao.payments.fees")

LOOKBACK_DAYS = 30
PULL_TIMEOUT_SECONDS = 8.0
SETTLED = ("paid", "refunding")  # an order in these states has paid its items


@dataclass
class HospitalFees:
    """One hospital's outstanding items for the member (``unavailable``: its HIS did not answer)."""

    hospital_id: int
    hospital_name: str
    items: list[FeeItem] = field(default_factory=list)
    unavailable: bool = False

    @property
    def total_fen(self) -> int:
        return sum(i.amount_fen for i in self.items)


async def paid_item_ids(s, hospital_id: int) -> set[str]:
    """The fee items of a hospital already paid through the platform (any member)."""
    rows = (await s.scalars(select(FeeOrder.items).where(
        FeeOrder.hospital_id == hospital_id, FeeOrder.status.in_(SETTLED)))).all()
    return {str(i.get("item_id")) for items in rows for i in (items or [])}


def patient_of(member: Member) -> dict:
    """What a HIS needs to find the member's charges (``HisAdapter.pull_fee_items``)."""
    try:
        number = cipher().decrypt(member.id_number_encrypted)
    except Exception:  # a rotated-away key: the HIS matches on the other facts
        number = ""
    return {"member_id": member.id, "name": member.name, "id_number": number, "card_no": ""}


async def outstanding(rt, *, member_id: int, hospital_id: int | None = None) -> list[HospitalFees]:
    """The member's unpaid fee items per hospital visited (only ``hospital_id`` when given);
    hospitals with nothing owed are left out unless their HIS was unavailable."""
    city = require_city()
    since = utcnow() - timedelta(days=LOOKBACK_DAYS)
    today = utcnow().astimezone(city.tz).date()
    async with rt.db.transaction() as s:
        member = await s.scalar(select(Member).where(Member.id == member_id))
        if member is None:
            return []
        q = select(Booking.hospital_id).where(
            Booking.member_id == member_id,
            ((Booking.status == BookingStatus.checked_in) & (Booking.starts_at >= since))
            | ((Booking.session_date == today) & (Booking.status == BookingStatus.confirmed)),
        ).distinct()
        if hospital_id is not None:
            q = q.where(Booking.hospital_id == hospital_id)
        ids = list((await s.scalars(q)).all())
        hospitals = (await s.scalars(select(Hospital).where(Hospital.id.in_(ids)).order_by(Hospital.id))).all()
        paid = {h.id: await paid_item_ids(s, h.id) for h in hospitals}
    plugins = await rt.plugins.for_city(city)
    patient = patient_of(member)

    async def one(hospital: Hospital) -> HospitalFees | None:
        adapter = plugins.hospital_his_adapter(hospital.his_adapter)
        if adapter is None or not (adapter.supports("fees") and adapter.supports("payment")):
            return None
        found = HospitalFees(hospital.id, hospital.name)
        attach_runtime(adapter, rt)
        settings, secrets = plugins.config_of(adapter, hospital.id)
        try:
            items = await asyncio.wait_for(
                adapter.pull_fee_items(city, hospital.code, patient, settings, secrets), PULL_TIMEOUT_SECONDS)
        except Exception as exc:  # a HIS down or slow: say so for this hospital, show the others
            log.warning("fee items of hospital %s unavailable: %s", hospital.id, exc)
            found.unavailable = True
            return found
        found.items = [i for i in items if i.status == "unpaid" and i.amount_fen > 0 and i.item_id not in paid[hospital.id]]
        return found if found.items else None

    results = await asyncio.gather(*(one(h) for h in hospitals))
    return [r for r in results if r is not None]
