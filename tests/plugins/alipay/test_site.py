"""The patient site with an Alipay hospital: book → pay page → the pay link → Alipay's cashier
(wap on a phone, page on a computer) → back through the signed return to a confirmed booking."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from guahao.core.models import BookingStatus
from guahao.core.plugins.manager import configure
from tests.plugins.web.conftest import Visitor, csrf_of

from .test_notify import deliver
from .test_payments import PHONE

DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


async def booked_and_held(client, ac) -> tuple[Visitor, str]:
    await configure(ac.rt, ac.city, "web")
    visitor = Visitor(client, ac.city.slug)
    assert (await visitor.register()).status_code == 303
    period = ac.cat.periods[ac.cat.sessions[2].id][0]
    booked = await visitor.book(period.id)
    assert booked.status_code == 303
    ref = re.search(r"bookings/([^/]+)/pay$", booked.headers["location"]).group(1)
    return visitor, ref


async def to_cashier(visitor, ref: str, user_agent: str, alipay_api) -> str:
    page = await visitor.get(f"bookings/{ref}/pay")
    assert page.status_code == 200 and "¥50.00" in page.text
    go = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)},
                                   headers={"User-Agent": user_agent})
    assert go.status_code == 303 and go.headers["location"].startswith(alipay_api.gateway + "?")
    async with httpx.AsyncClient() as browser:
        gateway = await browser.get(go.headers["location"])
    assert gateway.status_code == 302
    return gateway.headers["location"]


async def test_pay_on_a_phone_and_return_confirmed(client, alipay_city, alipay_api):
    ac = alipay_city
    visitor, ref = await booked_and_held(client, ac)
    cashier = await to_cashier(visitor, ref, PHONE, alipay_api)
    async with httpx.AsyncClient() as phone:
        shown = await phone.get(cashier)
        assert "¥50.00" in shown.text and "手机网站支付" in shown.text and "王建国" in shown.text
        done = await phone.post(cashier, data={"action": "pay"})
    assert done.status_code == 303
    back = done.headers["location"]
    assert back.startswith(f"http://testserver/c/{ac.city.slug}/plugins/alipay/return/")
    assert "sign=" in back and "method=alipay.trade.wap.pay.return" in back
    # Before the notify: the signed return is checked, then the platform asks Alipay itself.
    landed = await visitor.client.get(back)
    assert landed.status_code == 303
    assert landed.headers["location"] == f"/c/{ac.city.slug}/bookings/{ref}/paid"
    paid = await visitor.get(f"bookings/{ref}/paid")
    assert 'data-state="paid"' in paid.text
    assert ("alipay.trade.query", {"out_trade_no": f"GH{ac.city.id}_{ref.replace('-', '')}"}) in ac.account.requests
    fields, _ = ac.account.notifies[-1]
    assert (await deliver(client, ac, fields)).text == "success"  # the notify after: nothing more


async def test_a_return_with_a_bad_signature_is_not_believed(client, alipay_city, alipay_api):
    ac = alipay_city
    visitor, ref = await booked_and_held(client, ac)
    cashier = await to_cashier(visitor, ref, DESKTOP, alipay_api)
    async with httpx.AsyncClient() as browser:
        assert "电脑网站支付" in (await browser.get(cashier)).text
    trade = f"GH{ac.city.id}_{ref.replace('-', '')}"
    back = alipay_api.pay(ac.account.app_id, trade)
    parts = urlsplit(back)
    forged = dict(parse_qsl(parts.query))
    forged["total_amount"] = "0.01"
    r = await visitor.client.get(f"{parts.path}?{urlencode(forged)}")
    assert r.status_code == 400 and 'data-state="unverified"' in r.text
    assert f'href="/c/{ac.city.slug}/bookings/{ref}/paid"' in r.text  # a computer: no hints
    assert (await ac.booking(ref)).status == BookingStatus.pending_payment  # a return is never proof of payment
    elsewhere = parts.path.rsplit("/", 1)[0] + "/L2Mvb3RoZXIvYm9va2luZ3M"  # /c/other/bookings
    assert (await visitor.client.get(elsewhere)).status_code == 404


async def test_leaving_the_wap_cashier_goes_back_to_the_pay_page(client, alipay_city, alipay_api):
    ac = alipay_city
    visitor, ref = await booked_and_held(client, ac)
    page = await visitor.get(f"bookings/{ref}/pay")
    go = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)},
                                   headers={"User-Agent": PHONE})
    query = dict(parse_qsl(urlsplit(go.headers["location"]).query))
    quit_url = re.search(r'"quit_url":"([^"]+)"', query["biz_content"]).group(1)
    left = await visitor.client.get(quit_url)
    assert left.status_code == 303 and left.headers["location"].endswith(f"bookings/{ref}/pay?cancelled=1")


async def test_the_kiosk_shows_an_alipay_qr_code_and_moves_on_once_paid(client, alipay_city, alipay_api):
    from tests.plugins.web.conftest import KEY, bound_kiosk

    ac = alipay_city
    await configure(ac.rt, ac.city, "web")
    assert (await Visitor(client, ac.city.slug).register()).status_code == 303
    kiosk = await bound_kiosk(client, ac.rt, ac.cat)
    assert (await kiosk.log_in()).status_code == 303
    period = ac.cat.periods[ac.cat.sessions[2].id][0]
    page = await kiosk.get(f"book/{period.id}")
    booked = await kiosk.client.post(kiosk.root + f"book/{period.id}",
                                     data={"csrf": csrf_of(page.text), "key": KEY.search(page.text).group(1)})
    assert booked.status_code == 303
    ref = re.search(r"bookings/([^/?]+)", booked.headers["location"]).group(1)
    pay = await kiosk.get(f"bookings/{ref}/pay")
    shown = await kiosk.client.post(kiosk.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(pay.text)})
    assert shown.status_code == 200 and 'id="qr"' in shown.text and 'data-provider="alipay"' in shown.text
    assert "<svg" in shown.text and "¥50.00" in shown.text
    trade = f"GH{ac.city.id}_{ref.replace('-', '')}"
    assert [m for m, _ in ac.account.requests] == ["alipay.trade.precreate"]
    waiting = await kiosk.get(f"bookings/{ref}/paid?poll=1")
    assert waiting.status_code == 204
    alipay_api.pay(ac.account.app_id, trade)  # the member scans the code with Alipay and pays
    fields, _ = ac.account.notifies[-1]
    assert (await deliver(client, ac, fields)).text == "success"
    moved = await kiosk.get(f"bookings/{ref}/paid?poll=1")
    assert moved.status_code == 200 and moved.headers["HX-Redirect"].endswith(f"bookings/{ref}/paid")
    assert (await ac.booking(ref)).status == BookingStatus.confirmed
