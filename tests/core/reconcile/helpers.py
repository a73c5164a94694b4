"""A payment provider whose statement the test writes, and a city whose bookings pay through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from guahao.core.booking import events
from guahao.core.hookspecs import hookimpl
from guahao.core.models import Booking, PaymentMismatch, ReconciliationRun
from guahao.core.payments import payment_received
from guahao.core.plugins.interfaces import (
    PaymentIntent,
    PaymentProvider,
    PaymentResult,
    RefundResult,
    StatementLine,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.core.plugins.probes import enable
from tests.factories import Catalogue, make_catalogue

NAME = "statement_pay"


class StatementPay(PaymentProvider):
    """Pays at once; its statement is whatever the test put in ``lines`` (or raises ``fail``);
    ``execute`` answers ``answer`` when set."""

    name = NAME
    verbose_name = "对账测试支付"
    online = True
    refund_supported = True

    def __init__(self) -> None:
        self.lines: list = []
        self.fail: Exception | None = None
        self.asked: list = []
        self.answer: PaymentResult | None = None

    async def prepare(self, booking, settings, secrets, *, return_url=None, description=""):
        return PaymentIntent(provider=self.name, booking_id=booking.id, amount_fen=booking.fee_fen,
                             reference=f"pi-{booking.id}")

    async def execute(self, booking, settings, secrets, *, data=None):
        self.asked.append(booking.id)
        return self.answer or PaymentResult(self.name, booking.id, "paid", f"pi-{booking.id}", booking.fee_fen)

    async def refund(self, booking, amount_fen, settings, secrets):
        return RefundResult("refunded", amount_fen, f"rf-{booking.payment_ref}")

    async def statement(self, day, settings, secrets):
        if self.fail is not None:
            raise self.fail
        return list(self.lines)


class StatementPayPlugin:
    def __init__(self) -> None:
        self.provider = StatementPay()

    @hookimpl
    def guahao_payment_providers(self):
        return [self.provider]


@dataclass
class PayCity:
    rt: object
    cat: Catalogue
    provider: StatementPay

    @property
    def city(self):
        return self.cat.city

    @property
    def fee(self) -> int:
        return self.cat.reg_type.fee_fen

    async def held(self, index: int) -> Booking:
        """A held booking of a new member (sessions and periods taken in turn)."""
        sessions = self.cat.sessions
        session = sessions[index % len(sessions)]
        period = self.cat.periods[session.id][(index // len(sessions)) % len(self.cat.periods[session.id])]
        return await reserve(self.rt, self.city, await make_member(self.rt, self.city), period.id)

    async def paid(self, index: int) -> Booking:
        booking = await self.held(index)
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                assert await payment_received(s, booking.id, provider=NAME, payment_ref=f"pi-{booking.id}",
                                              amount_fen=self.fee) == "confirmed"
        return await self.booking(booking.id)

    async def refunded(self, booking: Booking, status: str = "refunded") -> str:
        """A refund of the whole fee recorded as the refund job records it; returns its ref."""
        ref = f"rf-{booking.payment_ref}"
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                row = await s.scalar(select(Booking).where(Booking.id == booking.id))
                events.record(s, row, "refunded", at=utcnow(), actor=f"payment:{NAME}", data={
                    "provider": NAME, "payment_ref": booking.payment_ref, "refund_ref": ref,
                    "amount_fen": self.fee, "status": status, "reason": "test"})
                await events.write(s)
        return ref

    async def booking(self, ref: str) -> Booking:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return await s.scalar(select(Booking).where(Booking.id == ref))

    async def mismatches(self, **where) -> list[PaymentMismatch]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                q = select(PaymentMismatch).order_by(PaymentMismatch.id)
                for k, v in where.items():
                    q = q.where(getattr(PaymentMismatch, k) == v)
                return list((await s.scalars(q)).all())

    async def runs(self) -> list[ReconciliationRun]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(ReconciliationRun).order_by(ReconciliationRun.id))).all())


def line(kind: str, our_ref: str, amount: int, status: str, *, provider_ref: str = "", booking_id: str = "",
         refund_ref: str = "") -> StatementLine:
    return StatementLine(kind=kind, provider_ref=provider_ref or f"T-{our_ref}", our_ref=our_ref, amount_fen=amount,
                         status=status, at=datetime.now().astimezone(), booking_id=booking_id, refund_ref=refund_ref)


async def pay_city(rt, city, register_plugin) -> PayCity:
    plugin = register_plugin(StatementPayPlugin(), NAME)
    city = await enable(rt, city, NAME)
    cat = await make_catalogue(rt, city, payment_mode="online", periods=4)
    return PayCity(rt, cat, plugin.provider)
