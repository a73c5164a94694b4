"""Reading the ``Parameters`` body of an IHE operation and the search parameters of a GET."""

from __future__ import annotations

import json
from datetime import date, datetime, time

from fhir.resources.R4B.parameters import Parameters
from pydantic import ValidationError

from .errors import FhirError

MAX_BODY = 64 * 1024


def invalid(code: str, message: str) -> FhirError:
    return FhirError(422, "invalid", code, message)


async def read_parameters(request) -> dict[str, list]:
    """The operation's parameters by name (each a list of the raw parameter dicts), after the
    body validated as a FHIR ``Parameters`` resource."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise FhirError(413, "too-costly", "body_too_large", "请求体过大。/ The body is too large.")
    try:
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
            raise ValueError("not a Parameters resource")
        Parameters.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise invalid("invalid_parameters",
                      "请求体应为 FHIR Parameters 资源。/ The body must be a FHIR Parameters resource: "
                      f"{str(exc)[:200]}") from None
    found: dict[str, list] = {}
    for p in data.get("parameter") or []:
        found.setdefault(p.get("name"), []).append(p)
    return found


def when(value: str, city, field: str) -> datetime:
    """A FHIR date or dateTime as an aware datetime (a date or a time without offset is the city's)."""
    text = str(value or "").strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=city.tz)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("invalid_datetime", f"{field} 不是有效的日期时间：{text[:40]!r}。/ {field} is not a dateTime.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=city.tz)


def datetime_param(params: dict, name: str, city, *, required: bool = True) -> datetime | None:
    items = params.get(name) or []
    if not items:
        if required:
            raise invalid("missing_parameter", f"缺少参数 {name}。/ Parameter {name} is required.")
        return None
    p = items[0]
    return when(p.get("valueDateTime") or p.get("valueInstant") or p.get("valueDate") or "", city, name)


def strings(params: dict, name: str) -> list[str]:
    out = []
    for p in params.get(name) or []:
        value = p.get("valueString") or p.get("valueCode")
        if value is None and p.get("valueCoding"):
            value = p["valueCoding"].get("code")
        if value is None and p.get("valueCodeableConcept"):
            concept = p["valueCodeableConcept"]
            value = ((concept.get("coding") or [{}])[0].get("code")) or concept.get("text")
        if value:
            out.append(str(value).strip())
    return out


def references(params: dict, name: str, kind: str) -> list[str]:
    """The ids of ``kind`` references (``Practitioner/12`` → ``12``) a parameter carries."""
    out = []
    for p in params.get(name) or []:
        ref = (p.get("valueReference") or {}).get("reference") or p.get("valueString") or ""
        prefix, _, ident = str(ref).rpartition("/")
        if prefix.split("/")[-1] != kind or not ident:
            raise invalid("invalid_reference", f"{name} 应为 {kind}/<id> 引用。/ {name} must reference a {kind}.")
        out.append(ident)
    return out


def integer(params: dict, name: str, default: int) -> int:
    items = params.get(name) or []
    if not items:
        return default
    value = items[0].get("valueInteger", items[0].get("valuePositiveInt"))
    if not isinstance(value, int) or value < 1:
        raise invalid("invalid_parameter", f"{name} 应为正整数。/ {name} must be a positive integer.")
    return value
