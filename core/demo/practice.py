"""Online payment in the served demo: the payment plugins' practice gateways, run by the demo.

``guahao demo`` (when it serves, and only as the embedded demo: SQLite without Redis, not
``GUAHAO_ENV=production``) asks each plugin of ``data.PRACTICE_PAYMENTS`` for its practice
gateway (hook ``guahao_demo_practice``: WeChat Pay's API v3 and Alipay's open platform, each
with a cashier page where the visitor plays the payer), opens merchant accounts there with keys
made now, and configures the demo city: the plugin enabled with the city's account, and the
listed hospitals paid online, each on a merchant account of its own (its hospital settings),
which is also what makes the booking go to that provider. The gateways are served under
``/practice/{plugin}/`` of the demo's own address (:class:`PracticeMounts`), so the plugins'
``api_base`` / ``gateway`` settings point back at the demo, and the gateways post their signed
notifications to the plugins' notify routes on the same site by real HTTP.

Nothing secret is committed: every start makes new keys and writes them over the old ones.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.routing import Match, Mount

from guahao.core.audit import Actor
from guahao.core.models import Hospital, PaymentMode
from guahao.core.plugins.hospital import configure_hospital_plugin
from guahao.core.plugins.manager import configure, iter_hook_plugins
from guahao.tenants.context import CityContext, use_city

from . import data

log = logging.getLogger("guahao.demo")

PREFIX = "/practice"
ACTOR = Actor("system", name="guahao demo")


def embedded(settings) -> bool:
    """Whether these settings are the embedded demo's (the only place practice gateways run)."""
    return not settings.production


async def open_practice_payments(rt, city: CityContext, base_url: str) -> dict[str, Any]:
    """Configure the demo city's online payment against fresh practice gateways served at
    ``base_url`` + ``/practice/{plugin}``; returns ``{plugin: ASGI app}`` to serve there.

    Nothing happens (``{}``) beyond the embedded demo, and a plugin that is not installed or
    offers no practice gateway is left out (its hospitals keep paying at the hospital).
    """
    if not embedded(rt.settings):
        return {}
    offered = dict(iter_hook_plugins(rt.plugins.pm, "guahao_demo_practice"))
    apps: dict[str, Any] = {}
    for plugin, codes in data.PRACTICE_PAYMENTS.items():
        meta = rt.plugins.meta(plugin)
        gateway = offered[plugin](base_url=f"{base_url.rstrip('/')}{PREFIX}/{plugin}") if plugin in offered else None
        if gateway is None or meta is None or meta.hospital_settings is None:
            log.warning("the demo has no practice gateway for %s; its hospitals pay at the hospital", plugin)
            continue
        own = set(meta.hospital_settings.model_fields)
        account = gateway.account()
        await configure(rt, city, plugin, settings=account["settings"], secrets=account["secrets"])
        with use_city(city):
            async with rt.db.transaction() as s:
                hospitals = (await s.scalars(select(Hospital).where(col(Hospital.code).in_(codes)))).all()
                for hospital in hospitals:
                    account = gateway.account()
                    await configure_hospital_plugin(
                        s, ACTOR, hospital.id, plugin, host=rt.plugins, secrets=account["secrets"],
                        settings={k: v for k, v in account["settings"].items() if k in own})
                    hospital.payment_mode = PaymentMode.online
        apps[plugin] = gateway.app
    rt.plugins.invalidate(city.id)
    return apps


def practice_hospitals() -> dict[str, list[str]]:
    """``{plugin: [hospital short names]}`` of the demo's online-payment hospitals (for the banner)."""
    names = {h.code: h.short_name for h in data.HOSPITALS}
    return {plugin: [names[c] for c in codes] for plugin, codes in data.PRACTICE_PAYMENTS.items()}


class PracticeMounts:
    """ASGI app: requests under ``/practice/{plugin}/`` go to that practice gateway, everything
    else (and the lifespan) to the platform's app.

    Parameters:
        app: the platform's app (``core.app.create_app``).
        gateways: ``{plugin: ASGI app}`` from :func:`open_practice_payments`.
    """

    def __init__(self, app, gateways: dict[str, Any]):
        self.app = app
        self.mounts = [Mount(f"{PREFIX}/{name}", app=gateway) for name, gateway in sorted(gateways.items())]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            for mount in self.mounts:
                match, child = mount.matches(scope)
                if match is Match.FULL:
                    await mount.handle({**scope, **child}, receive, send)
                    return
        await self.app(scope, receive, send)
