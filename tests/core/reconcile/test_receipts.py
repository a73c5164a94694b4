"""Receipts: a member's payment and refund each have a numbered receipt with its amount and
references; another member sees none of them; the printable page shows it."""

from __future__ import annotations

import pytest

from guahao.core.errors import DomainError
from guahao.core.payments.receipts import member_receipts, receipt_by_number, render_receipt
from guahao.tenants.context import use_city

from .helpers import pay_city


async def test_a_paid_and_refunded_booking_has_two_receipts(rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    booking = await pc.paid(0)
    refund_ref = await pc.refunded(booking)
    other = await pc.paid(1)
    with use_city(pc.city):
        mine = await member_receipts(rt, member_id=booking.member_id)
        theirs = await member_receipts(rt, member_id=other.member_id, booking_id=booking.id)
        refund, payment = mine
        assert (payment.number, payment.kind, payment.amount_fen, payment.status, payment.reference) == (
            f"{booking.id}-P1", "payment", pc.fee, "paid", booking.payment_ref)
        assert (refund.number, refund.kind, refund.amount_fen, refund.status, refund.reference) == (
            f"{booking.id}-R1", "refund", pc.fee, "refunded", refund_ref)
        assert payment.provider_name == "对账测试支付" and payment.hospital_name == pc.cat.hospital.name
        assert theirs == []
        assert await receipt_by_number(rt, member_id=booking.member_id, number=f"{booking.id}-R1") == refund
        with pytest.raises(DomainError) as err:
            await receipt_by_number(rt, member_id=other.member_id, number=f"{booking.id}-P1")
        assert err.value.code == "receipt_not_found" and err.value.status == 404
    html = render_receipt(payment, city_name="测试市", tz=pc.city.tz)
    yuan = f"¥{pc.fee // 100}.{pc.fee % 100:02d}"
    assert f'id="receipt-number">{booking.id}-P1<' in html and yuan in html and "挂号费电子收据" in html
    assert "<script" not in html
    assert "退款凭证" in render_receipt(refund, city_name="测试市", tz=pc.city.tz)
