"""Pushing bookings and cancellations to the hospital over signed JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

from guahao.plugin_api import HisAck, HisAdapter, HttpClient, TransportError, json_answer, utcnow

from . import signing
from .meta import NAME


def _appointment_no(response) -> str:
    answer = json_answer(response)
    number = answer.get("appointment_no") if isinstance(answer, dict) else None
    if not isinstance(number, str) or not number:
        raise TransportError(f"{NAME}: the hospital's answer has no appointment_no", permanent=True)
    return number


class JsonHis(HisAdapter):
    """The platform side of a hospital system with a signed JSON interface."""

    name = NAME
    verbose_name = "示例 HIS（JSON）"

    async def _post(self, path: str, payload: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        key = str(secrets.get("signing_key") or "")
        if not key or not settings.get("endpoint"):
            raise TransportError(f"{NAME}: endpoint and signing_key must be configured", permanent=True)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signing.headers(key, int(utcnow().timestamp()), body)
        async with HttpClient.from_settings(NAME, settings, redact=[key]) as http:
            number = await http.request("POST", f"{str(settings['endpoint']).rstrip('/')}{path}", content=body,
                                        headers=headers, idempotent=True, classify=_appointment_no)
        return HisAck(reference=number, message="accepted")

    async def push_booking(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        # The hospital dedupes on booking id, so a retried push is safe (idempotent=True).
        return await self._post("/appointments", {"city": city.slug, "booking": booking}, settings, secrets)

    async def push_cancellation(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self._post(f"/appointments/{booking['id']}/cancel", {"city": city.slug, "booking": booking},
                                settings, secrets)
