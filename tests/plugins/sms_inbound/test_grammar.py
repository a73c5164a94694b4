"""The SMS grammar on its own: twenty ways people write the same booking, ten messages that
cannot be read (each answered with what is wrong and an example), and the other commands."""

from datetime import date

import pytest

from guahao.plugins.channels.sms_inbound import texts
from guahao.plugins.channels.sms_inbound.grammar import (
    Book,
    Cancel,
    Choose,
    Help,
    Invalid,
    OptOut,
    Query,
    parse,
    parse_date,
    parse_ref,
)

TODAY = date(2026, 12, 7)  # a Monday; 12月9日 is the Wednesday after tomorrow
WANTED = Book(name="张三", day=date(2026, 12, 9), hospital="市一院", department="呼吸内科", doctor="王建国", half_day="am")

SPELLINGS = [
    "预约*张三*12月9日*市一院*呼吸内科*王建国*上午",
    "预约＊张三＊12月9日＊市一院＊呼吸内科＊王建国＊上午",  # full-width stars
    "预约﹡张三﹡12月9号﹡市一院﹡呼吸内科﹡王建国﹡上午",  # the small star of the seed's leaflet, 号 for 日
    "预约 张三 12.9 市一院 呼吸内科 王建国 上午",
    "预约，张三，12-09，市一院，呼吸内科，王建国，上午",
    "预约,张三,12/9,市一院,呼吸内科,王建国,上午",
    "预约#张三#后天#市一院#呼吸内科#王建国#上午",
    "预约*张三*周三*市一院*呼吸内科*王建国*上午",
    "预约*张三*星期三*市一院*呼吸内科*王建国主任*上午",
    "预约张三*12月9日上午*市一院*呼吸内科*王建国",  # command glued to the name, half-day to the date
    "预约 * 张三 * 12月9日 * 市一院 * 呼吸内科 * 王建国 * 上午",
    "ＹＹ＊张三＊１２月９日＊市一院＊呼吸内科＊王建国＊上午",  # full-width letters and digits
    "预约*张三*上午*12月9日*市一院*呼吸内科*王建国",  # half-day before the date
    "挂号*张三*2026-12-09*市一院*呼吸内科*王建国*上午",
    "预约**张三**12月9日**市一院**呼吸内科**王建国**上午",
    "预约、张三、礼拜三、市一院、呼吸内科、王建国医生、上午",
    "预约*张三*9号*市一院*呼吸内科*王建国*AM",
    "张三*12月9日*市一院*呼吸内科*王建国*上午",  # no command word: four fields and a date
    "  预约*张三*12月9日*市一院*呼吸内科*王建国*上午 \n",
    "yy;张三;12月9日;市一院;呼吸内科;王建国大夫;am",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_twenty_spellings_read_as_the_same_request(text):
    assert parse(text, TODAY) == WANTED


def test_the_twenty_spellings_are_twenty_different_texts():
    assert len(set(SPELLINGS)) == 20


MALFORMED = [
    ("", "empty", "短信内容为空"),
    ("你好，我想看病", "unknown_command", "未能识别"),
    ("预约*张三*明天", "missing_fields", "缺少医院和科室"),
    ("预约*张三*市一院*呼吸内科", "missing_date", "缺少就诊日期"),
    ("预约*张三*13月40日*市一院*呼吸内科", "invalid_date", "日期“13月40日”无法识别"),
    ("预约*张三*昨天*市一院*呼吸内科", "past_date", "12月6日已过"),
    ("预约*12345*明天*市一院*呼吸内科", "invalid_name", "姓名“12345”不对"),
    ("预约*张三*明天*市一院*呼吸内科*王建国*上午*加急", "too_many_fields", "内容多于要求的项目"),
    ("预约*张三*明天*上午*下午*市一院*呼吸内科", "conflicting_half_day", "上午和下午只能选一个"),
    ("预约*张三*明天*后天*市一院*呼吸内科", "two_dates", "只能写一个就诊日期"),
    ("取消", "missing_ref", "请附上预约号"),
    ("取消 12345", "invalid_ref", "预约号“12345”格式不对"),
]


@pytest.mark.parametrize(("text", "code", "problem"), MALFORMED)
def test_malformed_messages_get_a_specific_reply_with_an_example(text, code, problem):
    request = parse(text, TODAY)
    assert isinstance(request, Invalid) and request.code == code
    reply = texts.invalid(request)
    assert problem in reply
    assert "正确格式如：" in reply and (request.example in reply)
    assert request.example.startswith(("预约*", "取消 "))


def test_each_malformed_message_is_told_something_different():
    assert len({code for _, code, _ in MALFORMED}) == len(MALFORMED) >= 10


def test_the_other_commands():
    assert parse("查询", TODAY) == Query() and parse("我的预约", TODAY) == Query() and parse("cx", TODAY) == Query()
    assert parse("帮助", TODAY) == Help() and parse("？", TODAY) == Help()
    assert parse("2", TODAY) == Choose(2) and parse("２", TODAY) == Choose(2)
    for typed in ("取消 7K4MQ-9XT2B", "取消7k4mq9xt2b", "取消 7k4mq 9xt2b", "取消＊7K4MQ—9XT2B", "QX 7K4MQ9XT2B"):
        assert parse(typed, TODAY) == Cancel("7K4MQ-9XT2B"), typed


def test_references_take_only_the_booking_alphabet():
    assert parse_ref("7k4mq-9xt2b") == "7K4MQ-9XT2B"
    assert parse_ref("7K4MQ-9XT2O") is None  # O is not in the alphabet (0/O)
    assert parse_ref("GHABCDEFGHIJKLMNOP") == "GHABCDEFGHIJKLMNOP"  # older references keep working


def test_dates_relative_to_the_city_day():
    assert parse_date("明天", TODAY) == date(2026, 12, 8)
    assert parse_date("大后天", TODAY) == date(2026, 12, 10)
    assert parse_date("周一", TODAY) == TODAY  # today is a Monday
    assert parse_date("下周一", TODAY) == date(2026, 12, 14)
    assert parse_date("周日", TODAY) == parse_date("星期天", TODAY) == date(2026, 12, 13)
    assert parse_date("1月3日", TODAY) == date(2027, 1, 3)  # past this year: next year's
    assert parse_date("2号", TODAY) == date(2027, 1, 2)  # past this month: next month's
    assert parse_date("2月30日", TODAY) is None
    assert parse_date("市一院", TODAY) is None


def test_doctor_left_open_and_evening():
    request = parse("预约*张三*明天*市一院*呼吸内科*不限*下午", TODAY)
    assert isinstance(request, Book) and request.doctor == "" and request.half_day == "pm"
    assert parse("预约*张三*明天晚上*市一院*呼吸内科", TODAY).half_day == "evening"


def test_a_department_code_after_the_date_is_not_a_second_date():
    assert parse("预约 张三 明天 H1 03.01", TODAY) == Book("张三", date(2026, 12, 8), "H1", "03.01")


def test_unsubscribing_and_subscribing_again():
    for typed in ("TD", "td", "退订", "T", "Ｔ Ｄ".replace(" ", "")):
        assert parse(typed, TODAY) == OptOut(subscribe=False), typed
    assert parse("订阅", TODAY) == OptOut(subscribe=True)
