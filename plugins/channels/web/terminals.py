"""Kiosk terminals bound to one hospital (R5.5): a hospital's own self-service machine offers
only that hospital.

The city's ``web`` plugin settings list the terminals::

    "kiosk_terminals": {"MZ-01": {"hospital_id": 12, "name": "门诊大厅 1 号机"}}

Opening ``/c/{city}/kiosk/?terminal=MZ-01`` on the machine once stores the terminal id in a
long-lived cookie on the kiosk path; from then on the kiosk shows only that hospital, refuses
pages and slots of other hospitals, and the receipt names the terminal. An id the settings do
not list is refused with a plain sentence (a typo, or a terminal since removed), never ignored.

Identification at the kiosk (ID number and the phone's last four digits, or a text-message code)
works only on a bound terminal: the kiosk's address opened in any other browser says it must be
used on a registered terminal (``terminal_required``) and refuses the card, so the weak kiosk
log-in is not open to the internet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select

from guahao.core.errors import DomainError, NotFound
from guahao.core.models import ClinicSession, Period

COOKIE = "guahao_kiosk_terminal"
MAX_AGE = 5 * 365 * 24 * 3600
VALID_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


@dataclass(frozen=True)
class Terminal:
    """One registered machine: its id, the hospital it serves and its display name."""

    id: str
    hospital_id: int
    name: str


def configured(settings: Mapping) -> dict[str, Terminal]:
    """The terminals of a city's ``web`` settings; malformed entries are left out."""
    raw = settings.get("kiosk_terminals")
    found: dict[str, Terminal] = {}
    if not isinstance(raw, Mapping):
        return found
    for terminal_id, spec in raw.items():
        if not isinstance(spec, Mapping) or not VALID_ID.match(str(terminal_id)):
            continue
        try:
            hospital_id = int(spec.get("hospital_id"))
        except (TypeError, ValueError):
            continue
        found[str(terminal_id)] = Terminal(str(terminal_id), hospital_id, str(spec.get("name") or terminal_id))
    return found


async def of_city(rt, city) -> dict[str, Terminal]:
    plugins = await rt.plugins.for_city(city)
    return configured(plugins.settings("web"))


def unknown_terminal(terminal_id: str) -> DomainError:
    return DomainError("unknown_terminal", "该自助机编号未在本平台登记，请联系医院信息科", status=404,
                       details={"terminal": terminal_id[:40]})


def required() -> DomainError:
    """The kiosk was opened on a machine that is no registered terminal."""
    return DomainError("terminal_required", "自助机身份识别仅限在已登记的医院自助机上使用 / "
                       "identification works only on a registered self-service terminal", status=403)


def elsewhere() -> NotFound:
    """A page or slot of another hospital, asked for on a bound terminal."""
    return NotFound("本院以外的页面", code="other_hospital")


async def period_hospital(s, period_id: int) -> int | None:
    """The hospital whose session a period belongs to."""
    return await s.scalar(
        select(ClinicSession.hospital_id).join(Period, Period.session_id == ClinicSession.id).where(Period.id == period_id)
    )
