"""A patient's booking pages state its status and why it was cancelled in words, never a code."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_cancelled_booking_says_who_cancelled_it(visitor, site_city, lang):
    cat = site_city
    if lang == "en":
        assert (await visitor.set_language("en")).status_code == 303
    assert (await visitor.register()).status_code == 303
    period = cat.periods[cat.sessions[4].id][0]
    booked = await visitor.book(period.id)
    ref = re.search(r"bookings/([^?]+)\?new=1", booked.headers["location"]).group(1)
    page = await visitor.get(f"bookings/{ref}")
    assert 'id="cancel-reason"' not in page.text
    assert (await visitor.post(f"bookings/{ref}/cancel", {})).status_code == 303

    page = await visitor.get(f"bookings/{ref}")
    status = re.search(r'id="booking-status">([^<]*)<', page.text).group(1)
    reason = re.search(r'id="cancel-reason">([^<]*)<', page.text).group(1)
    assert (status, reason) == (("已取消", "您本人取消") if lang == "zh-CN" else ("Cancelled", "You cancelled it"))
    listing = await visitor.get("bookings?scope=cancelled")
    assert ("已取消" if lang == "zh-CN" else "Cancelled") in listing.text and "status:" not in listing.text
