"""A day of Alipay payments reconciled against the local fake Alipay: the statement zip its
real client downloads is matched; a refund made at Alipay that the platform never recorded is
found once, as missing on the platform."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from guahao.core.payments.reconcile import reconcile
from guahao.tenants.context import use_city
from tests.plugins.alipay.conftest import alipay_api, alipay_city  # noqa: F401  (fixtures)
from tests.plugins.alipay.test_payments import pay_and_confirm

BEIJING = timezone(timedelta(hours=8))


async def test_an_alipay_day_with_a_refund_nobody_recorded(alipay_city, alipay_api):  # noqa: F811
    ac = alipay_city
    first, second = await ac.held_booking(1), await ac.held_booking(2)
    await pay_and_confirm(ac, alipay_api, first)
    other = await pay_and_confirm(ac, alipay_api, second)
    day = datetime.now(BEIJING).date()
    with use_city(ac.city):
        clean = await reconcile(ac.rt, "alipay", day)
        assert clean.run.outcome == "ok" and clean.mismatches == [] and clean.run.payments == 2
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        await provider.refund(await ac.booking(second.id), 1250, plugins.settings("alipay"), plugins.secrets("alipay"))
        report = await reconcile(ac.rt, "alipay", day)
    [m] = report.mismatches
    assert (m.kind, m.line_kind, m.booking_id, m.our_ref, m.provider_amount_fen, m.platform_amount_fen) == (
        "missing_on_platform", "refund", second.id, other.reference, 1250, None)
    assert report.run.provider_refunded_fen == 1250 and report.run.platform_refunded_fen == 0
    assert report.run.provider_paid_fen == report.run.platform_paid_fen == 2 * (await ac.booking(first.id)).fee_fen
