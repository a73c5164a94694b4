"""The state of a licence is a pure function of the licence and the moment, in the city's local
calendar: each boundary of valid → expiring → grace → restricted, not yet valid, none."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from guahao.licensing.licences.banner import banner_for
from guahao.licensing.licences.document import LicenceDocument
from guahao.licensing.licences.states import counting, licence_state, state_on

SHANGHAI = ZoneInfo("Asia/Shanghai")
DOC = LicenceDocument(city="demo", valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31), grace_days=30,
                      licence_id="lic-1")
D = timedelta(days=1)


@pytest.mark.parametrize(("today", "state", "days_left", "grace_left", "allowed"), [
    (date(2025, 12, 31), "not_yet_valid", None, None, False),
    (date(2026, 1, 1), "valid", 365, None, True),
    (date(2026, 11, 30), "valid", 32, None, True),      # 31 days before the last day: still valid
    (date(2026, 12, 1), "expiring", 31, None, True),    # 30 days before valid_until: warned from here
    (date(2026, 12, 31), "expiring", 1, None, True),    # the last valid day
    (date(2027, 1, 1), "grace", 0, 30, True),           # the first day of grace
    (date(2027, 1, 30), "grace", 0, 1, True),           # the last day of grace (valid_until + 30 days)
    (date(2027, 1, 31), "restricted", 0, 0, False),     # grace over: no new bookings
    (date(2030, 1, 1), "restricted", 0, 0, False),
])
def test_each_boundary(today, state, days_left, grace_left, allowed):
    got = state_on(DOC, today, required=False)
    assert (got.state, got.days_left, got.grace_days_left, got.bookings_allowed) == (state, days_left, grace_left, allowed)
    assert got.reason == {"restricted": "expired", "not_yet_valid": "not_yet_valid"}.get(state, "")


def test_no_licence_is_unlicensed_unless_one_is_required():
    assert state_on(None, date(2026, 5, 1), required=False).state == "unlicensed"
    assert state_on(None, date(2026, 5, 1), required=False).bookings_allowed
    required = state_on(None, date(2026, 5, 1), required=True)
    assert (required.state, required.reason, required.bookings_allowed) == ("restricted", "no_licence", False)


def test_no_grace_means_restricted_the_day_after():
    strict = dataclasses.replace(DOC, grace_days=0)
    assert state_on(strict, date(2026, 12, 31), required=False).state == "expiring"
    assert state_on(strict, date(2027, 1, 1), required=False).state == "restricted"


def test_the_day_is_the_citys_local_day():
    # 2027-01-30 23:30 in Shanghai is 15:30 UTC: still the last day of grace there.
    last_evening = datetime(2027, 1, 30, 15, 30, tzinfo=UTC)
    assert licence_state(DOC, last_evening, SHANGHAI, required=False).state == "grace"
    assert licence_state(DOC, last_evening + timedelta(minutes=31), SHANGHAI, required=False).state == "restricted"
    # The same moment in a city eight hours behind UTC is still the 30th for a good while.
    assert licence_state(DOC, last_evening + timedelta(hours=1), ZoneInfo("America/Los_Angeles"),
                         required=False).state == "grace"


def test_the_newest_licence_that_has_begun_counts():
    current = DOC
    renewal = dataclasses.replace(DOC, licence_id="lic-2", valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31))
    newest_first = [renewal, current]
    assert counting(newest_first, date(2026, 12, 15)) is current  # the renewal waits for its first day
    assert counting(newest_first, date(2027, 1, 1)) is renewal
    assert counting([renewal], date(2026, 12, 15)) is renewal  # none has begun: the newest (not yet valid)
    assert counting([], date(2026, 12, 15)) is None


def _status(state: str, **facts) -> dict:
    return {"state": state, "reason": facts.pop("reason", ""), "valid_from": "2026-01-01", "valid_until": "2026-12-31",
            "grace_until": "2027-01-30", "days_left": facts.pop("days_left", None),
            "grace_days_left": facts.pop("grace_days_left", None), **facts}


def test_the_staff_banner_of_each_state():
    assert banner_for(_status("valid", days_left=200)) is None
    expiring = banner_for(_status("expiring", days_left=12))
    assert expiring.level == "warning" and "2026-12-31" in expiring.zh and "12 天" in expiring.zh
    assert "12 days left" in expiring.text("en")
    grace = banner_for(_status("grace", days_left=0, grace_days_left=7))
    assert grace.level == "warning" and "宽限期还剩 7 天" in grace.zh and "7 days of grace" in grace.en
    restricted = banner_for(_status("restricted", reason="expired"))
    assert restricted.level == "danger" and "暂停受理新的预约" in restricted.zh and "数据不会被删除" in restricted.zh
    assert "no data is deleted" in restricted.en
    none = banner_for(_status("restricted", reason="no_licence"))
    assert "尚未安装有效" in none.zh
    unlicensed = banner_for(_status("unlicensed"))
    assert unlicensed.level == "info" and "未授权运行" in unlicensed.zh
    assert "2026-01-01" in banner_for(_status("not_yet_valid", reason="not_yet_valid")).zh


def test_overage_shows_in_the_banner_even_when_the_licence_is_valid():
    over = [{"limit": "max_hospitals", "allowed": 20, "used": 23, "over": 3},
            {"limit": "channels", "allowed": ["web"], "used": ["kiosk", "web"], "over": ["kiosk"]}]
    banner = banner_for(_status("valid", days_left=200, overage=over))
    assert banner is not None and banner.zh == "" and "医院 23/20" in banner.overage_zh
    assert "kiosk" in banner.overage_text("en") and "Patients are not affected" in banner.overage_en
