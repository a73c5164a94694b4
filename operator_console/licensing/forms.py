"""The licensing pages' forms: amounts typed in yuan and kept in integer fen, the contract form
(one fieldset per model) read into terms with an error per field, and terms said in words.

Amounts: a finance person types yuan (``0.50``, ``120000``, ``1,200.00``); the amount becomes
fen exactly (a :class:`~decimal.Decimal`, never a float) and anything finer than a fen is
refused, not rounded. Error texts are English message ids, translated by the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from guahao.licensing.contracts.money import percent_text, yuan
from guahao.licensing.contracts.terms import MODEL_LABELS, MODELS, TERMS

MAX_FEN = 10**13
MAX_COUNT = 10**9
TIER_ROWS = 4
BUYER = ("name", "tax_id", "address", "email")

_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
_WHOLE = re.compile(r"^\d+$")

# Error messages (English message ids; zh-CN in the console catalog).
E_REQUIRED = "Required."
E_YUAN = "Enter an amount in yuan, such as 0.50 or 120000."
E_FEN = "At most two decimal places: amounts are whole fen."
E_NEGATIVE = "The amount cannot be negative."
E_TOO_LARGE = "The amount is too large."
E_COUNT = "Enter a whole number, such as 20000."
E_PERCENT = "Enter a percentage from 0 to 100 with at most four decimal places, such as 8 or 12.5."
E_DATE = "Enter a date such as 2026-11-01."
E_MONTH = "Enter a month such as 2026-11."
E_MODEL = "Choose a contract model."
E_BILLING = "Choose monthly or yearly billing."
E_TIER_OPEN = "The last tier has no upper bound: leave its 'up to' empty."
E_TIER_ONLY_LAST = "Only the last tier may be left without an upper bound."
E_TIER_RISE = "The tiers' upper bounds must be positive and rise from one tier to the next."
E_TIER_PRICE = "Each tier needs a price per booking."
E_TIERS_OR_PRICE = "Tiers replace the price per booking: fill in one or the other."
E_SHARE_EMPTY = "A revenue share needs a percentage, a price per booking or tiers."
E_RENTAL_EMPTY = "A rental needs a yearly licence fee or a yearly maintenance fee."
E_OVER_NEEDS_LIMIT = "A price over a limit needs the limit included."
E_TERMS = "Invalid value."


class FieldError(ValueError):
    """One field's problem: ``message`` is an English message id."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_fen(text: str | None, *, negative: bool = False) -> int | None:
    """Fen from yuan as typed (``None`` when empty). Raises :class:`FieldError`.

    ``"0.50"`` → 50, ``"120,000"`` → 12000000, ``"1.005"`` → refused (finer than a fen)."""
    raw = (text or "").strip().replace(",", "").replace("，", "").replace(" ", "")
    raw = raw.removeprefix("¥").removeprefix("￥").removesuffix("元")
    if not raw:
        return None
    if not _AMOUNT.match(raw):
        raise FieldError(E_YUAN)
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise FieldError(E_YUAN) from None
    fen = value * 100
    if fen != fen.to_integral_value():
        raise FieldError(E_FEN)
    if fen < 0 and not negative:
        raise FieldError(E_NEGATIVE)
    if abs(fen) > MAX_FEN:
        raise FieldError(E_TOO_LARGE)
    return int(fen)


def parse_count(text: str | None) -> int | None:
    """A whole number of units (``None`` when empty). Raises :class:`FieldError`."""
    raw = (text or "").strip().replace(",", "").replace(" ", "")
    if not raw:
        return None
    if not _WHOLE.match(raw):
        raise FieldError(E_COUNT)
    value = int(raw)
    if value > MAX_COUNT:
        raise FieldError(E_TOO_LARGE)
    return value


def parse_percent(text: str | None) -> str | None:
    """A percentage as the terms store it (``"12.5"``), ``None`` when empty."""
    raw = (text or "").strip().rstrip("%").strip()
    if not raw:
        return None
    if not _AMOUNT.match(raw):
        raise FieldError(E_PERCENT)
    value = Decimal(raw)
    if value < 0 or value > 100 or value != value.quantize(Decimal("0.0001")):
        raise FieldError(E_PERCENT)
    return format(value.normalize(), "f")


def parse_day(text: str | None) -> date:
    raw = (text or "").strip()
    if not raw:
        raise FieldError(E_REQUIRED)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FieldError(E_DATE) from None


def fen_text(fen: int | None) -> str:
    """Fen as a yuan field shows it (``50`` → ``0.50``, ``None`` → empty)."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


# --- the contract form -------------------------------------------------------------------------

# form field → term key, per model
SHARE_FIELDS = {"rs_percent": "percent", "rs_per_booking_yuan": "per_booking_fen", "rs_minimum_yuan": "minimum_fen"}
PROFIT_FIELDS = {"ps_percent": "percent", "ps_minimum_yuan": "minimum_fen"}
RENTAL_MONEY = {"licence_yuan_per_year": "licence_fen_per_year", "maintenance_yuan_per_year": "maintenance_fen_per_year",
                "overage_hospital_yuan": "overage_hospital_fen", "overage_booking_yuan": "overage_booking_fen",
                "overage_sms_yuan": "overage_sms_fen"}
RENTAL_COUNTS = {"included_hospitals": "included_hospitals", "included_bookings": "included_bookings_per_month",
                 "included_sms": "included_sms_per_month"}
TERM_FIELD = {
    "revenue_share": {**{v: k for k, v in SHARE_FIELDS.items()}, "tiers": "tiers"},
    "profit_share": {v: k for k, v in PROFIT_FIELDS.items()},
    "rental": {**{v: k for k, v in RENTAL_MONEY.items()}, **{v: k for k, v in RENTAL_COUNTS.items()},
               "billing": "billing"},
}
_MODEL_RULES = {
    "a revenue share needs a percent, a per-booking fee or tiers": ("rs_percent", E_SHARE_EMPTY),
    "tiers replace the per-booking fee: give one or the other": ("rs_per_booking_yuan", E_TIERS_OR_PRICE),
    "the last tier must be open-ended (no upper bound)": ("tiers", E_TIER_OPEN),
    "only the last tier may be open-ended": ("tiers", E_TIER_ONLY_LAST),
    "tier upper bounds must be positive and rise strictly": ("tiers", E_TIER_RISE),
    "a rental needs a licence fee or a maintenance fee per year": ("licence_yuan_per_year", E_RENTAL_EMPTY),
}


@dataclass
class ContractForm:
    """A contract version as posted: what it says (``model``, ``effective_from``, ``terms``,
    ``buyer``, ``note``) once every field reads, else ``errors`` (field → message id)."""

    values: dict[str, str]
    model: str = ""
    effective_from: date | None = None
    terms: dict = field(default_factory=dict)
    buyer: dict = field(default_factory=dict)
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def tier_rows(values: dict[str, str]) -> int:
    """How many tier rows the form shows (at least :data:`TIER_ROWS`, one spare)."""
    used = [int(k.rsplit("_", 1)[1]) for k in values if re.fullmatch(r"tier_(up_to|price)_\d{1,2}", k)]
    return max(TIER_ROWS, (max(used) + 1) if used else 0)


def _read(form: ContractForm, name: str, parse, **kw):
    try:
        return parse(form.values.get(name), **kw)
    except FieldError as exc:
        form.errors[name] = exc.message
        return None


def _tiers(form: ContractForm) -> list[dict]:
    tiers = []
    for i in range(1, tier_rows(form.values) + 1):
        up = _read(form, f"tier_up_to_{i}", parse_count)
        price = _read(form, f"tier_price_{i}", parse_fen)
        if f"tier_up_to_{i}" in form.errors or f"tier_price_{i}" in form.errors:
            continue
        if up is None and price is None:
            continue
        if price is None:
            form.errors[f"tier_price_{i}"] = E_TIER_PRICE
            continue
        tiers.append({"up_to": up, "per_booking_fen": price})
    return tiers


def read_contract_form(values: dict[str, str]) -> ContractForm:
    """The posted contract form, field by field; the model's own rules are checked too, and
    each of their refusals is put on the field it is about."""
    form = ContractForm(values=dict(values))
    model = values.get("model", "")
    if model not in MODELS:
        form.errors["model"] = E_MODEL
    form.model = model
    try:
        form.effective_from = parse_day(values.get("effective_from"))
    except FieldError as exc:
        form.errors["effective_from"] = exc.message
    terms: dict = {}
    if model == "revenue_share":
        percent = _read(form, "rs_percent", parse_percent)
        per_booking = _read(form, "rs_per_booking_yuan", parse_fen)
        minimum = _read(form, "rs_minimum_yuan", parse_fen)
        tiers = _tiers(form)
        terms = {"percent": percent, "per_booking_fen": per_booking, "minimum_fen": minimum}
        if tiers:
            terms["tiers"] = tiers
    elif model == "profit_share":
        percent = _read(form, "ps_percent", parse_percent)
        if percent is None and "ps_percent" not in form.errors:
            form.errors["ps_percent"] = E_REQUIRED
        terms = {"percent": percent, "minimum_fen": _read(form, "ps_minimum_yuan", parse_fen)}
    elif model == "rental":
        terms = {key: _read(form, name, parse_fen) for name, key in RENTAL_MONEY.items()}
        terms.update({key: _read(form, name, parse_count) for name, key in RENTAL_COUNTS.items()})
        billing = values.get("billing", "monthly") or "monthly"
        if billing not in ("monthly", "yearly"):
            form.errors["billing"] = E_BILLING
        terms["billing"] = billing
    form.terms = {k: v for k, v in terms.items() if v is not None}
    if model in MODELS and not form.errors:
        _check_model(form)
    form.buyer = {k: values.get(f"buyer_{k}", "").strip() for k in BUYER}
    form.buyer = {k: v for k, v in form.buyer.items() if v}
    form.note = values.get("note", "").strip()
    return form


def _check_model(form: ContractForm) -> None:
    """The model's validation (``licensing.contracts.terms``), its refusals put on fields."""
    try:
        TERMS[form.model].model_validate(form.terms)
    except ValidationError as exc:
        names = TERM_FIELD[form.model]
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            msg = str(err["msg"]).removeprefix("Value error, ")
            if not loc or loc[0] not in names:
                where, text = _MODEL_RULES.get(msg, ("", ""))
                if not where and " needs " in msg and msg.startswith("overage_"):
                    where = TERM_FIELD[form.model].get(msg.split(" ", 1)[0], "")
                    text = E_OVER_NEEDS_LIMIT
                form.errors.setdefault(where or "terms", text or E_TERMS)
            else:
                form.errors.setdefault(names[loc[0]], E_PERCENT if loc[0] == "percent" else E_TERMS)


def contract_values(contract: dict | None, *, effective_from: date) -> dict[str, str]:
    """The form's fields prefilled from a version (``contract_as_dict``), for an amendment."""
    values: dict[str, str] = {"model": "revenue_share", "effective_from": effective_from.isoformat(), "billing": "monthly"}
    if contract is None:
        return values
    model, terms = contract["model"], contract["terms"]
    values["model"] = model
    for k in BUYER:
        if contract["buyer"].get(k):
            values[f"buyer_{k}"] = str(contract["buyer"][k])
    if model == "revenue_share":
        for name, key in SHARE_FIELDS.items():
            if key in terms:
                values[name] = str(terms[key]) if key == "percent" else fen_text(terms[key])
        for i, t in enumerate(terms.get("tiers") or [], 1):
            values[f"tier_up_to_{i}"] = "" if t.get("up_to") is None else str(t["up_to"])
            values[f"tier_price_{i}"] = fen_text(t["per_booking_fen"])
    elif model == "profit_share":
        for name, key in PROFIT_FIELDS.items():
            if key in terms:
                values[name] = str(terms[key]) if key == "percent" else fen_text(terms[key])
    elif model == "rental":
        for name, key in RENTAL_MONEY.items():
            if terms.get(key):
                values[name] = fen_text(terms[key])
        for name, key in RENTAL_COUNTS.items():
            if terms.get(key) is not None:
                values[name] = str(terms[key])
        values["billing"] = terms.get("billing", "monthly")
    return values


# --- terms in words ----------------------------------------------------------------------------


def model_label(model: str, lang: str) -> str:
    zh, en = MODEL_LABELS.get(model, (model, model))
    return en if lang == "en" else zh


RENTAL_LIMITS = (
    ("included_hospitals", "overage_hospital_fen", "%(n)s active hospitals included, then %(price)s yuan each"),
    ("included_bookings_per_month", "overage_booking_fen", "%(n)s bookings a month included, then %(price)s yuan each"),
    ("included_sms_per_month", "overage_sms_fen", "%(n)s SMS a month included, then %(price)s yuan each"),
)


def terms_summary(model: str, terms: dict, _) -> list[str]:
    """The terms of a version as sentences (``_`` translates the console's message ids)."""
    out: list[str] = []
    if model == "revenue_share":
        if terms.get("percent") is not None:
            out.append(_("%(percent)s of registration fees (paid minus refunded)", percent=percent_text(terms["percent"])))
        if terms.get("per_booking_fen") is not None:
            out.append(_("%(price)s yuan per confirmed booking", price=yuan(terms["per_booking_fen"])))
        low = 1
        for t in terms.get("tiers") or []:
            if t.get("up_to") is None:
                out.append(_("from booking no. %(low)s of the month on: %(price)s yuan each", low=f"{low:,}",
                             price=yuan(t["per_booking_fen"])))
            else:
                out.append(_("bookings %(low)s to %(high)s of the month: %(price)s yuan each", low=f"{low:,}",
                             high=f"{t['up_to']:,}", price=yuan(t["per_booking_fen"])))
                low = t["up_to"] + 1
        if terms.get("minimum_fen") is not None:
            out.append(_("monthly minimum %(amount)s yuan", amount=yuan(terms["minimum_fen"])))
    elif model == "profit_share":
        out.append(_("%(percent)s of the operating profit declared each month", percent=percent_text(terms["percent"])))
        if terms.get("minimum_fen") is not None:
            out.append(_("monthly minimum %(amount)s yuan", amount=yuan(terms["minimum_fen"])))
    elif model == "rental":
        if terms.get("licence_fen_per_year"):
            out.append(_("licence fee %(amount)s yuan a year", amount=yuan(terms["licence_fen_per_year"])))
        if terms.get("maintenance_fen_per_year"):
            out.append(_("maintenance fee %(amount)s yuan a year", amount=yuan(terms["maintenance_fen_per_year"])))
        out.append(_("billed yearly") if terms.get("billing") == "yearly" else _("billed monthly"))
        for limit, price, text in RENTAL_LIMITS:
            if terms.get(limit) is not None:
                out.append(_(text, n=f"{terms[limit]:,}", price=yuan(terms.get(price, 0))))
    return out


def parse_month_text(text: str | None) -> str:
    """``YYYY-MM`` as typed (a month field), else :class:`FieldError`."""
    raw = (text or "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}", raw) or not 1 <= int(raw[5:]) <= 12:
        raise FieldError(E_MONTH if raw else E_REQUIRED)
    return raw
