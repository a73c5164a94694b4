"""My account: masked identity, e-mail and opt-out edited through a CSRF-protected form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guahao.core.models import Member
from guahao.tenants.context import use_city

from .conftest import id_number


async def member_row(rt, city) -> Member:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(select(Member).where(Member.phone == "13800138000"))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_profile_shows_masked_id_and_saves_contacts(visitor, rt, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    await visitor.register()
    page = await visitor.get("profile")
    assert page.status_code == 200 and f'<html lang="{lang}"' in page.text
    assert id_number() not in page.text and "1101" in page.text and "13800138000" in page.text
    assert ("我的账户" if lang == "zh-CN" else "My account") in page.text
    saved = await visitor.post("profile", {"email": "zhang@example.cn", "opt_out": "1"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("profile?saved=1")
    m = await member_row(rt, site_city.city)
    assert m.email == "zhang@example.cn" and m.notifications_opt_out is True
    again = await visitor.get("profile?saved=1")
    assert 'value="zhang@example.cn"' in again.text and "checked" in again.text
    assert ("修改已保存" if lang == "zh-CN" else "Your changes have been saved.") in again.text

    bad = await visitor.post("profile", {"email": "nope"})
    assert bad.status_code == 422 and 'id="email-error"' in bad.text
    assert ("电子邮箱" if lang == "zh-CN" else "valid e-mail") in bad.text
    cleared = await visitor.post("profile", {"email": ""})  # unchecked box: opted back in
    assert cleared.status_code == 303
    m = await member_row(rt, site_city.city)
    assert m.email is None and m.notifications_opt_out is False


async def test_profile_needs_login_and_csrf(visitor, rt, site_city):
    anonymous = await visitor.get("profile")
    assert anonymous.status_code == 303 and "login" in anonymous.headers["location"]
    await visitor.register()
    forged = await visitor.client.post(visitor.root + "profile", data={"email": "evil@example.cn", "csrf": "x"})
    assert forged.status_code == 403
    assert (await member_row(rt, site_city.city)).email is None
