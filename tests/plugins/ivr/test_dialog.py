"""The phone menu as a state machine, without telephony or database: a fake of the platform's
services answers, and each test walks the menu by keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from guahao.plugins.channels.ivr import dialog, keypad

TODAY = date(2026, 12, 7)  # a Monday


@dataclass
class FakeServices:
    today: date = TODAY
    booked: list = field(default_factory=list)
    cancelled: list = field(default_factory=list)
    full: bool = False

    async def member_by_phone(self, phone):
        return SimpleNamespace(id=7, phone="13800000001") if phone.endswith("13800000001") else None

    async def check_pin(self, member_id, digits):
        return member_id == 7 and digits == "123450"

    async def hospitals(self):
        names = [("第一人民医院", "市一院"), ("中心医院", ""), ("儿童医院", "")]
        names += [(f"社区卫生服务中心{i}", "") for i in range(8)]
        return [SimpleNamespace(id=i, name=n, keys=keypad.spellings(n, s)) for i, (n, s) in enumerate(names, 1)]

    async def departments(self, hospital_id):
        return [SimpleNamespace(id=31, name="呼吸内科"), SimpleNamespace(id=32, name="心内科")]

    async def doctors(self, hospital_id, department_id):
        return [SimpleNamespace(id=41, name="王建国", detail="主任医师")]

    async def slots(self, department_id, day, half_day="", doctor_id=None):
        if (day - self.today).days not in (1, 3) or self.full:
            return []
        found = [SimpleNamespace(session_id=1, doctor_id=41, doctor_name="王建国", half_day="am", released=True,
                                 free_periods=(5,), campus="本部", fee="50.00元"),
                 SimpleNamespace(session_id=2, doctor_id=41, doctor_name="王建国", half_day="pm", released=True,
                                 free_periods=(9,), campus="本部", fee="50.00元")]
        return [s for s in found if not half_day or s.half_day == half_day]

    def summary(self, ref):
        return SimpleNamespace(ref=ref, hospital="第一人民医院", department="呼吸内科", doctor="王建国",
                               day=self.today + timedelta(days=1), half_day="am", start="08:00", queue_no=1,
                               fee="50.00元", when="12月8日（周二）上午08:00-08:30")

    async def book(self, member_id, slots, key):
        if key not in [k for k, _ in self.booked]:
            self.booked.append((key, slots[0].free_periods[0]))
        return self.summary("7K3QP-2M9XA")

    async def upcoming(self, member_id):
        return [self.summary("7K3QP-2M9XA")] if self.booked and not self.cancelled else []

    async def cancel(self, member_id, ref):
        if ref != "7K3QP-2M9XA":
            raise dialog.Refused("not_found", "未找到该预约")
        self.cancelled.append(ref)
        return self.summary(ref)


async def walk(svc, keys, caller="+8613800000001"):
    state = {"call": "CA1", "ref": "12345678"}
    turns = [await dialog.start(state, svc, caller=caller)]
    for n, k in enumerate(keys, 1):
        state["turn"] = n
        turns.append(await dialog.step(state, k, svc))
    return state, turns


async def test_the_full_keypad_path_books_and_reads_back():
    svc = FakeServices()
    state, turns = await walk(svc, ["123450", "1", "1", "1", "2", "1", "1", "1", "2"])
    assert "请输入密码" in turns[0].say and turns[0].keys == 6 and turns[0].finish
    assert turns[1].say.startswith(dialog.MAIN)
    assert "第一人民医院请按1" in turns[2].say and "更多请按9" in turns[2].say and turns[2].finish
    assert "呼吸内科请按1" in turns[3].say
    assert "任意医生请按1" in turns[4].say and "王建国主任医师请按2" in turns[4].say
    assert "明天12月8日星期二请按1" in turns[5].say and "12月10日星期四请按2" in turns[5].say
    assert "上午请按1，下午请按2" in turns[6].say
    read_back = turns[7].say
    for fact in ("第一人民医院", "本部", "呼吸内科", "王建国医生", "明天12月8日星期二上午", "挂号费50.00元", "确认预约请按1"):
        assert fact in read_back, fact
    assert turns[8].say.startswith("预约成功") and "7 K 3 Q P，2 M 9 X A" in turns[8].say
    assert svc.booked == [("ivr:CA1:8", 5)]
    assert "支付链接已通过短信发送" in turns[9].say
    assert state["effects"] == [{"kind": "pay_link", "member_id": 7, "phone": "13800000001", "booking": "7K3QP-2M9XA"}]
    assert state["step"] == "after"


async def test_hospital_by_pinyin_initials_and_paging():
    svc = FakeServices()
    state, turns = await walk(svc, ["123450", "1", "9"])
    assert "社区卫生服务中心5请按1，社区卫生服务中心6请按2，社区卫生服务中心7请按3" in turns[-1].say  # page 2: 9 to 11
    state, turns = await walk(svc, ["123450", "1", keypad.keys_of("SYY")])  # 市一院
    assert state["hospital"]["name"] == "第一人民医院" and "请选择科室" in turns[-1].say
    state, turns = await walk(svc, ["123450", "1", keypad.keys_of("SQ")])  # 社区…: eight hospitals
    assert turns[-1].say.startswith("找到8家医院") and state["step"] == "hospital"


async def test_unknown_caller_types_the_registered_number_and_the_pin_is_checked():
    svc = FakeServices()
    state, turns = await walk(svc, ["13800000001#", "111111", "123450"], caller="+8613999999999")
    assert "未能识别您的来电号码" in turns[0].say and turns[0].keys == 11
    assert "密码不正确" in turns[2].say and turns[3].say.startswith(dialog.MAIN)


async def test_three_wrong_pins_go_to_an_agent_with_the_call_reference():
    state, turns = await walk(FakeServices(), ["111111", "222222", "333333"])
    assert turns[-1].end == "agent" and "1 2 3 4 5 6 7 8" in turns[-1].say


@pytest.mark.parametrize("agents,end", [(True, "agent"), (False, "hangup")])
async def test_timeouts_and_wrong_keys_re_prompt_twice_then_hand_on(agents, end):
    svc = FakeServices()
    state = {"call": "CA1", "ref": "1"}
    await dialog.start(state, svc, caller="13800000001")
    await dialog.step(state, "123450", svc, agent=agents)
    first = await dialog.step(state, None, svc, agent=agents)
    second = await dialog.step(state, "7", svc, agent=agents)
    assert first.say.startswith(dialog.MAIN) and second.say.startswith("输入有误。" + dialog.MAIN)
    assert not first.end and not second.end
    third = await dialog.step(state, "", svc, agent=agents)
    assert third.end == end


async def test_star_repeats_and_zero_goes_to_an_agent_anywhere():
    svc = FakeServices()
    state, turns = await walk(svc, ["123450", "1", "*"])
    assert turns[-1].say == turns[-2].say and state["step"] == "hospital"
    state, turns = await walk(svc, ["123450", "1", "1", "0"])
    assert turns[-1].end == "agent" and state["step"] == "agent"


async def test_query_and_cancel_by_the_list_of_upcoming_bookings():
    svc = FakeServices()
    state, turns = await walk(svc, ["123450", "2"])
    assert "您目前没有待就诊的预约" in turns[-1].say
    svc.booked.append(("earlier", 5))
    state, turns = await walk(svc, ["123450", "2", "1", "3", "1", "1"])
    assert "您有1个预约" in turns[2].say and "7 K 3 Q P" in turns[2].say
    assert "12月8日（周二）上午08:00-08:30王建国医生的预约请按1" in turns[4].say
    assert "确认取消请按1" in turns[5].say
    assert turns[6].say.startswith("已取消预约7 K 3 Q P") and svc.cancelled == ["7K3QP-2M9XA"]


async def test_no_open_sessions_returns_to_the_main_menu():
    svc = FakeServices(full=True)
    state, turns = await walk(svc, ["123450", "1", "1", "1", "1"])
    assert turns[-1].say.startswith("抱歉，近期没有可预约的号源") and state["step"] == "main"


def test_keypad_spellings_prefer_an_exact_then_a_leading_match():
    hospitals = [(name, keypad.spellings(name, short)) for name, short in
                 [("示例市第一人民医院", "市一院"), ("示例市中医医院", "市中医院"), ("示例市口腔医院", "口腔医院")]]
    assert keypad.keys_of(keypad.initials("第一人民医院")) == "397699"
    assert keypad.matching("799", hospitals) == ["示例市第一人民医院"]  # 市一院 = SYY exactly
    assert keypad.matching("79", hospitals) == ["示例市第一人民医院", "示例市中医医院"]  # SYY, SZYY
    assert keypad.matching("397", hospitals) == ["示例市第一人民医院"]  # …DYR… inside the full name
    assert keypad.matching("46", hospitals) == []
