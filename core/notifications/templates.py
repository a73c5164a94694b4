"""Provider templates (SMS, WeChat): the named values a message states, and the template a
city's sender settings give a notification kind, filled in with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from guahao.core.booking.labels import reason_label
from guahao.core.catalogue.places import place_label
from guahao.core.models import Member
from guahao.tenants.context import CityContext

from .facts import BookingFacts, local, yuan
from .texts import login_code


def message_params(city: CityContext, kind: str, member: Member, facts: BookingFacts | None, data: dict) -> dict[str, str]:
    """Named values for provider templates (SMS, WeChat), the same facts the text states."""
    params = {"name": member.name, "city": city.name}
    if facts is not None:
        b, d = facts.booking, facts.session.date
        params.update(
            booking_no=b.id,
            hospital=facts.hospital.name,
            department=facts.department.name,
            doctor=facts.doctor.name,
            when=facts.when,
            date=f"{d.month}月{d.day}日",
            time=f"{facts.period.start:%H:%M}-{facts.period.end:%H:%M}",
            place=facts.place,
            campus=place_label(facts.visit_place),
            fee=yuan(b.fee_fen),
        )
        if kind == "booking_pending_payment":
            params["deadline"] = local(b.hold_expires_at, city, "%H:%M")
        if kind == "waitlist_offer":
            until = data.get("offer_expires_at")
            params["deadline"] = local(datetime.fromisoformat(until) if isinstance(until, str) else b.hold_expires_at, city)
        if kind == "booking_cancelled":
            params["reason"] = reason_label(data.get("reason") or b.cancel_reason)
    if kind == "credit_suspended":
        until = data.get("suspended_until")
        at = datetime.fromisoformat(until) if isinstance(until, str) else member.suspended_until
        params.update(until=local(at, city, "%Y年%m月%d日"), reason=str(data.get("reason") or member.suspension_reason or "爽约"))
    if kind == "login_code":
        params["code"] = login_code(data)
    for key in ("text", "url", "reason", "old_when", "moved_to", "who", "when"):
        if data.get(key) and key not in params:
            params[key] = str(data[key])
    return params


@dataclass(frozen=True)
class Template:
    """A provider template filled in: ``values`` maps template variables to text, in order."""

    code: str
    values: dict[str, str]


def template_for(settings: Mapping, kind: str, params: Mapping[str, str], *, code_key: str = "code") -> Template | None:
    """The provider template a city's sender settings give ``kind``; ``None`` when none.

    ``settings["templates"][kind]`` is a template code, or ``{code_key: code, "params": …}``
    where ``params`` maps template variables to message params (``{"no": "booking_no"}``) or
    lists message params in template order (positional templates). Without ``params`` every
    message param goes under its own name.
    """
    spec = (settings.get("templates") or {}).get(kind)
    if not spec:
        return None
    if isinstance(spec, str):
        return Template(spec, {k: str(v) for k, v in params.items()})
    code = str(spec.get(code_key) or spec.get("code") or "")
    if not code:
        return None
    wanted = spec.get("params")
    if wanted is None:
        values = {k: str(v) for k, v in params.items()}
    elif isinstance(wanted, Mapping):
        values = {var: str(params.get(name, "")) for var, name in wanted.items()}
    else:
        values = {name: str(params.get(name, "")) for name in wanted}
    return Template(code, values)
