"""The terms of each contract model, validated (pydantic) before a contract version is stored.

All money is integer fen, net of VAT. Percentages are decimals with at most four places
(``12.5`` means 12.5 %). The rules these terms feed are written once in
``docs/licensing-contracts.md`` and applied by :mod:`.pricing`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MODELS = ("revenue_share", "rental", "profit_share")
"""The contract models (合作模式): 免费共建/合作运营 = revenue share, 平台租赁/授权运营 = rental,
运营利润分成 = profit share."""

MODEL_LABELS = {
    "revenue_share": ("收入分成（免费共建，合作运营）", "Revenue share"),
    "rental": ("平台租赁（授权运营）", "Rental"),
    "profit_share": ("运营利润分成", "Profit share"),
}

Fen = Annotated[int, Field(ge=0, le=10**13)]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=4)]
Count = Annotated[int, Field(ge=0, le=10**9)]


class _Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Terms):
    """One step of the per-booking price: bookings up to ``up_to`` (the month's running count,
    inclusive; ``None`` for the last, open step) cost ``per_booking_fen`` each."""

    up_to: Count | None = None
    per_booking_fen: Fen


class RevenueShareTerms(_Terms):
    """免费共建，合作运营: the vendor takes ``percent`` of the registration fees collected
    (paid minus refunded) and/or a fixed ``per_booking_fen`` per confirmed booking.

    ``tiers`` replace ``per_booking_fen`` with graduated steps by the month's booking volume:
    the n-th confirmed booking of the month costs the price of the step that holds n.
    ``minimum_fen`` is a monthly minimum guarantee: a share below it is topped up to it.
    """

    percent: Percent | None = None
    per_booking_fen: Fen | None = None
    tiers: tuple[Tier, ...] = ()
    minimum_fen: Fen | None = None

    @model_validator(mode="after")
    def _check(self) -> "RevenueShareTerms":
        if self.percent is None and self.per_booking_fen is None and not self.tiers:
            raise ValueError("a revenue share needs a percent, a per-booking fee or tiers")
        if self.tiers and self.per_booking_fen is not None:
            raise ValueError("tiers replace the per-booking fee: give one or the other")
        check_tiers(self.tiers)
        return self


def check_tiers(tiers: tuple[Tier, ...]) -> None:
    """Steps rise strictly and the last one is open (``up_to`` empty)."""
    if not tiers:
        return
    bounds = [t.up_to for t in tiers]
    if bounds[-1] is not None:
        raise ValueError("the last tier must be open-ended (no upper bound)")
    closed = [b for b in bounds[:-1] if b is not None]
    if len(closed) != len(bounds) - 1:
        raise ValueError("only the last tier may be open-ended")
    if any(b <= 0 for b in closed) or any(a >= b for a, b in zip(closed, closed[1:], strict=False)):
        raise ValueError("tier upper bounds must be positive and rise strictly")


class RentalTerms(_Terms):
    """平台租赁，授权运营: a yearly licence fee and a yearly maintenance fee, billed ``monthly``
    (a twelfth per month) or ``yearly`` (per calendar year, in advance); limits included per
    month (``None``: no limit) and a price per unit over each limit."""

    licence_fen_per_year: Fen = 0
    maintenance_fen_per_year: Fen = 0
    billing: Literal["monthly", "yearly"] = "monthly"
    included_hospitals: Count | None = None
    included_bookings_per_month: Count | None = None
    included_sms_per_month: Count | None = None
    overage_hospital_fen: Fen = 0
    overage_booking_fen: Fen = 0
    overage_sms_fen: Fen = 0

    @model_validator(mode="after")
    def _check(self) -> "RentalTerms":
        for limit, price in (("included_hospitals", "overage_hospital_fen"),
                             ("included_bookings_per_month", "overage_booking_fen"),
                             ("included_sms_per_month", "overage_sms_fen")):
            if getattr(self, price) and getattr(self, limit) is None:
                raise ValueError(f"{price} needs {limit} (a price over a limit needs the limit)")
        if not (self.licence_fen_per_year or self.maintenance_fen_per_year):
            raise ValueError("a rental needs a licence fee or a maintenance fee per year")
        return self


class ProfitShareTerms(_Terms):
    """运营利润分成: ``percent`` of the operating profit the operator declares for each month
    (a loss yields nothing); ``minimum_fen`` as for a revenue share."""

    percent: Percent
    minimum_fen: Fen | None = None


TERMS: dict[str, type[_Terms]] = {
    "revenue_share": RevenueShareTerms,
    "rental": RentalTerms,
    "profit_share": ProfitShareTerms,
}

Terms = RevenueShareTerms | RentalTerms | ProfitShareTerms


class TermsInvalid(ValueError):
    """Terms that do not fit their contract model; the message names every problem."""


def parse_terms(model: str, data: dict) -> Terms:
    """Validate ``data`` as the terms of ``model``; raise :class:`TermsInvalid` (one line)."""
    cls = TERMS.get(model)
    if cls is None:
        raise TermsInvalid(f"contract model {model!r} is not one of {', '.join(MODELS)}")
    try:
        return cls.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"does not apply to a {model} contract"
            problems.append(f"{where}: {msg}" if where else msg)
        raise TermsInvalid("; ".join(problems)) from None


def terms_json(terms: Terms) -> dict:
    """The terms as stored (JSON: decimals as strings, unset fields left out)."""
    return {k: v for k, v in terms.model_dump(mode="json", exclude_none=True).items() if v != []}
