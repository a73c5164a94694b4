"""演示 HIS: an in-process hospital information system for the demo and for tests.

It accepts every booking and cancellation pushed to it and answers with its own appointment
number; core records each accepted push in the booking's history (``his_pushed`` events), which
is what this HIS "received". It reports check-ins when told: by the function
:func:`report_check_in`, or over HTTP at ``POST /c/{city}/plugins/demo_his/checkin`` with
``{"booking_id": …}`` and the city's shared token in ``X-Demo-His-Token``.

Settings: ``token`` (secrets, or settings for a demo) authenticates the check-in route;
``fail_pushes`` (settings) makes pushes fail, to show retries.
"""

from __future__ import annotations

from typing import Mapping

from guahao.core.hookspecs import hookimpl
from guahao.core.plugins.interfaces import HisAck, HisAdapter

from .checkin import TOKEN_HEADER, checkin_routes, report_check_in
from .meta import META  # noqa: F401  (the plugin's declaration)

NAME = "demo_his"

__all__ = ["DemoHis", "NAME", "TOKEN_HEADER", "report_check_in"]


class HisUnavailable(RuntimeError):
    """The (pretend) HIS is down; core retries the push later."""


class DemoHis(HisAdapter):
    """Accepts pushes and answers with an appointment number derived from the booking."""

    name = NAME
    verbose_name = "演示 HIS"

    @staticmethod
    def _check(settings: Mapping) -> None:
        if settings.get("fail_pushes"):
            raise HisUnavailable("demo HIS set to refuse pushes")

    async def push_booking(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        self._check(settings)
        return HisAck(reference=f"DEMO-{booking['id']}", message="预约已接收")

    async def push_cancellation(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        self._check(settings)
        return HisAck(reference=f"DEMO-{booking['id']}", message="预约已取消")


@hookimpl
def guahao_his_adapters():
    return [DemoHis()]


@hookimpl
def guahao_routes():
    return checkin_routes()
