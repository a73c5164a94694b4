"""Installing, revoking and reporting a city's licence: what the commands and the console call.

- :func:`install_licence` verifies a token (signature, trusted key, city, not past its grace)
  before storing it, audits it and refreshes the process's cache;
- :func:`revoke_licence` withdraws installed licences (history kept), audited;
- :func:`licence_status` says what the licence allows today, with limits, usage and overage;
- :func:`licence_history` lists every licence the city installed, revoked ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from guahao.core.audit import SYSTEM, Actor, record
from guahao.core.errors import DomainError
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, use_city

from .cache import CityLicences, Installed, city_licences, forget
from .document import MODEL_LABELS, LicenceRefused, Limits
from .keys import trusted_keys
from .models import InstalledLicence
from .signing import VerifiedLicence, expired_refusal, verify
from .states import RESTRICTED, LicenceState, expiring_from, local_today, state_on


class LicenceNotFound(DomainError):
    status = 404

    def __init__(self, city: str, licence_id: str | None):
        what = f"许可证 {licence_id}" if licence_id else "有效的许可证"
        what_en = f"licence {licence_id}" if licence_id else "unrevoked licence"
        super().__init__("licence_not_found", f"城市“{city}”没有{what}。",
                         details={"message_en": f"the city {city!r} has no {what_en}"})
        self.message_en = f"the city {city!r} has no {what_en}"

    @property
    def line(self) -> str:
        return f"{self.message} / {self.message_en}"


@dataclass(frozen=True)
class InstallOutcome:
    """What an install did: the verified licence, whether a row was added (``False``: it was
    installed already) and the city's licence state afterwards."""

    licence: VerifiedLicence
    added: bool
    state: LicenceState


def _installer(actor: Actor) -> str:
    return (actor.name or actor.label)[:120]


async def install_licence(rt, city: CityContext, token: str, *, actor: Actor = SYSTEM) -> InstallOutcome:
    """Verify ``token`` for ``city`` and store it (audited ``licence.install``). Refused with
    :class:`LicenceRefused`: malformed, tampered, foreign-signed, for another city, past its
    grace already (``licence_expired``) or revoked before (``licence_revoked``). Installing
    the same licence again changes nothing."""
    licence = verify(token, trusted_keys(rt.settings), city=city.slug)
    doc = licence.document
    today = local_today(utcnow(), city.tz)
    if state_on(doc, today, required=False).state == RESTRICTED:
        raise expired_refusal(doc, today)
    added = False
    try:
        with use_city(city):
            async with rt.db.transaction() as s:
                existing = await s.scalar(select(InstalledLicence).where(InstalledLicence.licence_id == doc.licence_id))
                if existing is not None and existing.revoked_at is not None:
                    raise LicenceRefused(
                        "licence_revoked", f"许可证 {doc.licence_id} 已于 {existing.revoked_at:%Y-%m-%d} 被撤销，不能再次安装。",
                        f"licence {doc.licence_id} was revoked on {existing.revoked_at:%Y-%m-%d} and cannot be installed again",
                    )
                if existing is None:
                    s.add(InstalledLicence(
                        licence_id=doc.licence_id, token=licence.token, key_id=licence.key_id, valid_from=doc.valid_from,
                        valid_until=doc.valid_until, installed_by=_installer(actor),
                    ))
                    record(s, actor, "licence.install", target_type="licence", target_id=doc.licence_id,
                           summary=f"安装许可证 {doc.licence_id}（有效期 {doc.valid_from} 至 {doc.valid_until}）",
                           after={**doc.to_claims(), "key_id": licence.key_id})
                    added = True
    except IntegrityError:  # the same licence installed at the same moment by another request
        added = False
    forget(rt, city.id)
    state, _ = (await city_licences(rt, city)).state(utcnow(), city)
    return InstallOutcome(licence, added, state)


async def revoke_licence(
    rt, city: CityContext, *, actor: Actor = SYSTEM, licence_id: str | None = None, reason: str = ""
) -> list[str]:
    """Withdraw the city's licence ``licence_id``, or every unrevoked one when ``None`` (the
    city is then as if it had none); audited ``licence.revoke``. Returns the ids revoked."""
    now = utcnow()
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(InstalledLicence).where(col(InstalledLicence.revoked_at).is_(None))
            if licence_id:
                q = q.where(InstalledLicence.licence_id == licence_id)
            rows = (await s.scalars(q.order_by(col(InstalledLicence.id)))).all()
            if not rows:
                raise LicenceNotFound(city.slug, licence_id)
            for row in rows:
                row.revoked_at, row.revoked_by, row.revoke_reason = now, _installer(actor), reason[:300]
                s.add(row)
                record(s, actor, "licence.revoke", target_type="licence", target_id=row.licence_id,
                       summary=f"撤销许可证 {row.licence_id}", reason=reason,
                       before={"revoked_at": None}, after={"revoked_at": now})
    forget(rt, city.id)
    return [row.licence_id for row in rows]


async def licence_history(rt, city: CityContext) -> list[dict]:
    """Every licence the city installed, newest first, revoked ones included."""
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(InstalledLicence).order_by(col(InstalledLicence.id).desc()))).all()
    return [
        {"licence_id": r.licence_id, "key_id": r.key_id, "valid_from": r.valid_from.isoformat(),
         "valid_until": r.valid_until.isoformat(), "installed_at": r.installed_at.isoformat(),
         "installed_by": r.installed_by, "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
         "revoked_by": r.revoked_by, "revoke_reason": r.revoke_reason}
        for r in rows
    ]


# --- usage against the limits ---------------------------------------------------------------


@dataclass(frozen=True)
class LimitUsage:
    """What the city uses of what a licence limits: active hospitals in its catalogue, bookings
    confirmed in the current local month (the ledger's ``booking.confirmed``) and per channel."""

    month: str
    hospitals: int
    bookings_this_month: int
    channels: dict[str, int]


async def limit_usage(rt, city: CityContext, today: date) -> LimitUsage:
    from guahao.core.models import Hospital

    from ..ledger.periods import month_bounds
    from ..ledger.query import period_totals

    first = today.replace(day=1)
    start, end = month_bounds(city.tz, first)
    with use_city(city):
        async with rt.db.transaction() as s:
            hospitals = await s.scalar(select(func.count()).select_from(Hospital).where(col(Hospital.active).is_(True)))
            totals = await period_totals(s, start, end, by={"booking.confirmed": "channel"})
    bookings = sum(t.quantity for t in totals if t.meter == "booking.confirmed" and not t.dimension)
    channels = {t.value: t.quantity for t in totals if t.meter == "booking.confirmed" and t.dimension == "channel"}
    return LimitUsage(f"{first:%Y-%m}", int(hospitals or 0), bookings, channels)


def overage(limits: Limits, usage: LimitUsage) -> list[dict]:
    """Each limit the usage exceeds: ``{"limit", "allowed", "used", "over"}``. Overage is shown
    to staff and billed; it never refuses a patient."""
    out: list[dict] = []
    if limits.max_hospitals is not None and usage.hospitals > limits.max_hospitals:
        out.append({"limit": "max_hospitals", "allowed": limits.max_hospitals, "used": usage.hospitals,
                    "over": usage.hospitals - limits.max_hospitals})
    if limits.max_bookings_per_month is not None and usage.bookings_this_month > limits.max_bookings_per_month:
        out.append({"limit": "max_bookings_per_month", "allowed": limits.max_bookings_per_month,
                    "used": usage.bookings_this_month, "over": usage.bookings_this_month - limits.max_bookings_per_month})
    if limits.channels is not None:
        unlisted = sorted(c for c, n in usage.channels.items() if n > 0 and c not in limits.channels)
        if unlisted:
            out.append({"limit": "channels", "allowed": list(limits.channels), "used": sorted(usage.channels),
                        "over": unlisted})
    return out


# --- status -----------------------------------------------------------------------------------


def describe(city: CityContext, licences: CityLicences, now: datetime) -> dict:
    """The licence part of the status, from the cached licences alone (no database)."""
    state, current = licences.state(now, city)
    out: dict = {
        "city": city.slug, "state": state.state, "reason": state.reason, "bookings_allowed": state.bookings_allowed,
        "required": licences.required, "today": state.today.isoformat(), "days_left": state.days_left,
        "grace_days_left": state.grace_days_left, "licence_id": None, "issuer_key_id": None, "operator": None,
        "model": None, "model_label": None, "issued_at": None, "valid_from": None, "valid_until": None, "grace_days": None,
        "grace_until": None, "expiring_from": None, "limits": None, "installed_at": None, "installed_by": None,
        "installed_count": len(licences.installed), "problems": dict(licences.problems),
    }
    if current is not None:
        out.update(_licence_facts(current))
    return out


def _licence_facts(current: Installed) -> dict:
    doc = current.document
    return {
        "licence_id": doc.licence_id, "issuer_key_id": current.licence.key_id, "operator": doc.operator,
        "model": doc.model, "model_label": MODEL_LABELS.get(doc.model, (doc.model, doc.model))[0],
        "issued_at": doc.issued_at.isoformat() if doc.issued_at else None, "valid_from": doc.valid_from.isoformat(),
        "valid_until": doc.valid_until.isoformat(), "grace_days": doc.grace_days,
        "grace_until": doc.grace_until.isoformat(), "expiring_from": expiring_from(doc).isoformat(),
        "limits": doc.limits.to_claims(), "installed_at": current.installed_at.isoformat(),
        "installed_by": current.installed_by,
    }


async def licence_status(rt, city: CityContext, *, with_usage: bool = True) -> dict:
    """The city's licence today: ``state`` (valid, expiring, grace, restricted, unlicensed,
    not_yet_valid), ``bookings_allowed``, the counting licence's facts (``licence_id``,
    ``issuer_key_id``, ``valid_from``, ``valid_until``, ``days_left``, ``grace_days``,
    ``grace_days_left``, ``limits`` …), stored licences that no longer verify (``problems``)
    and, ``with_usage``, the ``usage`` against the limits and the ``overage``."""
    now = utcnow()
    licences = await city_licences(rt, city)
    out = describe(city, licences, now)
    if with_usage:
        state, current = licences.state(now, city)
        usage = await limit_usage(rt, city, state.today)
        out["usage"] = {"month": usage.month, "hospitals": usage.hospitals,
                        "bookings_this_month": usage.bookings_this_month, "channels": usage.channels}
        out["overage"] = overage(current.document.limits, usage) if current is not None else []
    return out
