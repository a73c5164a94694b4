"""示例 HIS (JSON): a guahao plugin for a hospital system reached over signed JSON.

Written only against ``guahao.plugin_api``, the platform's public plugin API. It declares itself
(``META``), pushes bookings and cancellations to the hospital (:class:`JsonHis`), receives
arrival reports at ``/c/{city}/plugins/his_example/arrivals`` and keeps them in its own table.
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from .adapter import JsonHis
from .arrivals import Arrival, arrival_routes
from .meta import META

__all__ = ["META", "Arrival", "JsonHis"]


@hookimpl
def guahao_his_adapters():
    return [JsonHis()]


@hookimpl
def guahao_routes():
    return arrival_routes()
