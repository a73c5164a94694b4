"""到院支付: the registration fee is paid at the hospital's window; nothing moves online.

A booking with this provider is confirmed at once and its fee is collected on the day of the
visit, so there is never anything for the platform to refund.
"""

from __future__ import annotations

from typing import Mapping

from guahao.core.hookspecs import hookimpl
from guahao.core.plugins.interfaces import PaymentIntent, PaymentProvider, PaymentResult, RefundResult

from .meta import META  # noqa: F401  (the plugin's declaration)

NAME = "pay_at_hospital"


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class PayAtHospital(PaymentProvider):
    """The fee is paid at the hospital (挂号收费窗口 or self-service kiosk) on the day."""

    name = NAME
    verbose_name = "到院支付"
    refund_supported = False
    partial_refund_supported = False

    async def prepare(
        self, booking, settings: Mapping, secrets: Mapping, *, return_url: str | None = None, description: str = ""
    ) -> PaymentIntent:
        where = settings.get("where") or "医院挂号收费窗口或自助机"
        return PaymentIntent(
            provider=self.name,
            booking_id=booking.id,
            amount_fen=booking.fee_fen,
            online=False,
            instructions=f"请于就诊当日在{where}支付挂号费 {_yuan(booking.fee_fen)} 元。",
            reference=booking.id,
        )

    async def execute(self, booking, settings: Mapping, secrets: Mapping, *, data: Mapping | None = None) -> PaymentResult:
        # Nothing is taken online: the booking stands and the fee is due at the window.
        return PaymentResult(provider=self.name, booking_id=booking.id, status="pending", payment_ref=booking.id)

    async def refund(self, booking, amount_fen: int, settings: Mapping, secrets: Mapping, *, key: str = "") -> RefundResult:
        return RefundResult(status="nothing_to_refund", amount_fen=0)

    def matching_id(self, booking) -> str:
        return booking.id


@hookimpl
def guahao_payment_providers():
    return [PayAtHospital()]
