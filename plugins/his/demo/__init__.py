"""演示 HIS: an in-process hospital information system for the demo and for tests.

It accepts every booking, cancellation and payment pushed to it (fee items only of their
own visit) and answers with its own appointment number; core records each accepted push in
the booking's history (``his_pushed`` events), which is what this HIS "received". It reports check-ins when told: by the function
:func:`report_check_in`, or over HTTP at ``POST /c/{city}/plugins/demo_his/checkin`` with
``{"booking_id": …}`` and the city's shared token in ``X-Demo-His-Token``.

Settings: ``token`` (secrets, or settings for a demo) authenticates the check-in route;
``fail_pushes`` (settings) makes pushes fail, to show retries, and its health check fail.

When the platform pulls, it also publishes a hospital's schedule (``schedule_doctors``, with
``suspend_doctor`` to show a 停诊), the outcomes of a day's visits and a visit's fee items,
deterministically (see :mod:`.pulls`); its lists of sessions and visits are complete.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Mapping

from guahao.plugin_api import FeeItem, HisAck, HisAdapter, HisHealth, HisRejected, ScheduleItem, VisitStatus, hookimpl

from . import pulls
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
    operations = frozenset({"book", "cancel", "payment", "schedules", "visits", "fees", "health"})
    supports_pull = True
    schedules_complete = True  # every session of the range it publishes is in the list
    visits_complete = True  # a booking of a past period it does not list was not seen

    def __init__(self) -> None:
        self.rt = None

    def attach_runtime(self, rt) -> None:
        """The platform's runtime: the demo HIS reads the platform's tables as its own."""
        self.rt = rt

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

    async def push_payment(self, city, booking: dict, payment: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        """Takes the registration fee and fee items paid online; refuses (for good) items of a
        visit that is not the booking's, as a real cashier system refuses unknown charges."""
        self._check(settings)
        if payment.get("kind") == "fees":
            visit = f"DEMO-{booking['id']}-"
            unknown = [i for i in payment.get("items") or [] if not str(i).startswith(visit)]
            if unknown:
                raise HisRejected(f"收费项目不存在：{', '.join(map(str, unknown))}")
            return HisAck(reference=f"DEMO-PAY-{payment.get('reference', '')}", message="缴费已入账")
        return HisAck(reference=f"DEMO-PAY-{booking['id']}", message="挂号费已入账")

    async def pull_schedules(
        self, city, hospital_code: str, date_from: date, date_to: date, settings: Mapping, secrets: Mapping
    ) -> list[ScheduleItem]:
        return await pulls.schedules(self.rt, city, hospital_code, date_from, date_to, settings)

    async def pull_visit_status(
        self, city, hospital_code: str, day: date, settings: Mapping, secrets: Mapping
    ) -> list[VisitStatus]:
        return await pulls.visits(self.rt, city, hospital_code, day, settings)

    async def pull_fee_items(
        self, city, hospital_code: str, patient: dict, settings: Mapping, secrets: Mapping
    ) -> list[FeeItem]:
        return await pulls.fee_items(self.rt, city, hospital_code, patient)

    async def health(self, city, settings: Mapping, secrets: Mapping) -> HisHealth:
        started = time.perf_counter()
        if settings.get("fail_pushes"):
            return HisHealth(ok=False, detail="demo HIS set to refuse pushes")
        return HisHealth(ok=True, detail="演示 HIS 运行中", latency_ms=round((time.perf_counter() - started) * 1000, 3))


@hookimpl
def guahao_his_adapters():
    return [DemoHis()]


@hookimpl
def guahao_routes():
    return checkin_routes()
