"""GB 11643 ID numbers: check digit, dates, region, length, masking."""

from datetime import date

import pytest

from guahao.core.errors import DomainError
from guahao.core.members.ids import check_digit, mask_id_number, validate_id_number


def with_check(first17: str) -> str:
    return first17 + check_digit(first17)


@pytest.mark.parametrize(
    "first17, expected",
    [("11010519491231002", "X"), ("44052418800101001", "4"), ("34052419800101001", "X")],
)
def test_check_digit_known_values(first17, expected):
    assert check_digit(first17) == expected


def test_check_digit_needs_17_digits():
    for bad in ("1234", "1101051949123100X", "１１０１０５１９４９１２３１００２"):
        with pytest.raises(ValueError):
            check_digit(bad)


def test_valid_number_gives_birth_date_and_sex():
    info = validate_id_number("11010519491231002X")
    assert info.birth_date == date(1949, 12, 31)
    assert info.sex == "F"  # 17th digit 2 is even
    male = validate_id_number("34052419800101001X")
    assert male.sex == "M" and male.birth_date == date(1980, 1, 1)


def test_lower_case_x_and_spaces_are_normalised():
    info = validate_id_number(" 11010519491231002x ")
    assert info.number == "11010519491231002X"


def reason(value: str, **kw) -> str:
    with pytest.raises(DomainError) as exc:
        validate_id_number(value, **kw)
    assert exc.value.code == "invalid_id_number" and exc.value.status == 422
    return exc.value.details["reason"]


@pytest.mark.parametrize(
    "value, why",
    [
        ("11010519491231002", "length"),  # 17
        ("11010519491231002X1", "length"),  # 19
        ("", "length"),
        ("1101051949123100XX", "characters"),
        ("11010519491231002Y", "characters"),
        ("１１０１０５１９４９１２３１００２X", "characters"),  # full-width digits
        ("110105194912310021", "check_digit"),  # wrong check digit (right one is X)
    ],
)
def test_malformed_numbers(value, why):
    assert reason(value) == why


def test_impossible_dates():
    assert reason(with_check("11010519900230001")) == "birth_date"  # 30 February
    assert reason(with_check("11010519901301001")) == "birth_date"  # month 13
    assert reason(with_check("11010518991231001")) == "birth_date"  # before 1900


def test_future_birth_date():
    assert reason(with_check("11010520300101001"), today=date(2025, 6, 1)) == "birth_date"
    assert validate_id_number(with_check("11010520250601001"), today=date(2025, 6, 1)).birth_date == date(2025, 6, 1)


def test_region_code_must_be_a_province():
    assert reason(with_check("00010519900101001")) == "region"
    assert reason(with_check("99010519900101001")) == "region"
    assert reason(with_check("19010519900101001")) == "region"
    assert validate_id_number(with_check("82010519900101001")).sex == "M"


def test_sex_from_seventeenth_digit():
    assert validate_id_number(with_check("11010519900101003")).sex == "M"
    assert validate_id_number(with_check("11010519900101004")).sex == "F"


def test_mask_keeps_four_and_four():
    assert mask_id_number("110101199003071234") == "1101**********1234"
    assert mask_id_number("11010519491231002x") == "1101**********002X"
    assert mask_id_number("1234") == "****"
