"""PRC resident ID numbers (GB 11643-1999): validation, check digit, masking.

An ID number is 18 characters: a 6-digit region code, the birth date (YYYYMMDD), a 3-digit
sequence whose last digit is odd for men and even for women, and a check digit (0-9 or X)
computed over the first 17 digits (ISO 7064 MOD 11-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from guahao.core.errors import DomainError
from guahao.tenants.clock import utcnow

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 (11 北京 … 65 新疆, 71 台湾, 81 香港, 82 澳门).
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
)
EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class IdInfo:
    """What an ID number says about its holder."""

    number: str  # normalised: upper-case X, no spaces
    birth_date: date
    sex: str  # "M" | "F"


def _invalid(reason: str, message: str) -> DomainError:
    return DomainError(
        "invalid_id_number", message, status=422, details={"field": "id_number", "reason": reason}
    )


def normalize_id_number(value: str) -> str:
    return value.strip().replace(" ", "").upper()


def check_digit(first17: str) -> str:
    """The GB 11643 check character for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=False))
    return CHECK_CHARS[total % 11]


def validate_id_number(value: str, *, today: date | None = None) -> IdInfo:
    """Check an ID number completely; raise ``invalid_id_number`` (422) naming the reason."""
    number = normalize_id_number(value if isinstance(value, str) else "")
    if len(number) != 18:
        raise _invalid("length", "身份证号码应为18位")
    body, last = number[:17], number[17]
    if not (body.isascii() and body.isdigit()) or not (last == "X" or (last.isascii() and last.isdigit())):
        raise _invalid("characters", "身份证号码前17位应为数字，最后一位为数字或X")
    if int(body[:2]) not in PROVINCES:
        raise _invalid("region", "身份证号码的地区代码无效")
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        raise _invalid("birth_date", "身份证号码中的出生日期无效") from None
    today = today or utcnow().date()
    if born < EARLIEST_BIRTH or born > today:
        raise _invalid("birth_date", "身份证号码中的出生日期不在有效范围内")
    if check_digit(body) != last:
        raise _invalid("check_digit", "身份证号码校验位不正确")
    return IdInfo(number=number, birth_date=born, sex="M" if int(body[16]) % 2 else "F")


def mask_id_number(value: str) -> str:
    """``110101199003071234`` → ``1101**********1234``: enough to recognise, not to use."""
    value = normalize_id_number(value)
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]
