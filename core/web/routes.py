"""Platform pages: the landing page, a modest city page, the demo message log, the health check.

Server-rendered with Jinja2 and one small CSS file served from this package (no CDN, no
build step). The full patient site comes later; these pages tell a newcomer what runs here.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from guahao.core.demo import demo_logins
from guahao.core.demo.data import CITY_SLUG
from guahao.core.errors import NotFound
from guahao.core.members.ids import check_digit
from guahao.tenants.context import current_city, use_city

from . import pages

log = logging.getLogger("guahao.web")

HERE = Path(__file__).parent
HEALTH_TIMEOUT = 3.0
# A valid ID number (not a demo member's) for the copy-paste registration example.
SAMPLE_ID_FIRST17 = "11010519900307003"


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(), auto_reload=False)
    return Jinja2Templates(env=env)


def _city(request: Request):
    city = current_city()
    if city is None or city.slug != request.path_params.get("city"):
        raise NotFound("city", code="city_not_found")
    return city


class WebPages:
    """The page endpoints, bound to the process runtime.

    Parameters:
        rt: the runtime (database, Redis) the pages read from.
    """

    def __init__(self, rt):
        self.rt = rt
        self.templates = _templates()

    def render(self, request: Request, name: str, status_code: int = 200, **context) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    async def index(self, request: Request) -> Response:
        host_city = current_city()
        if host_city is not None:  # the city's own host name: its page is the home page
            return RedirectResponse(f"/c/{host_city.slug}/", status_code=307)
        cities = await pages.list_cities(self.rt.db)
        demo = next((c for c in cities if c.slug == CITY_SLUG), None)
        example_city = demo or (cities[0] if cities else None)
        example = None
        if example_city is not None:
            ctx = await self.rt.resolver.by_slug(example_city.slug)
            if ctx is not None:
                with use_city(ctx):
                    async with self.rt.db.transaction() as s:
                        example = await pages.booking_example(s, ctx)
        return self.render(
            request,
            "index.html",
            cities=cities,
            demo=demo,
            logins=demo_logins() if demo else [],
            example_city=example_city,
            example=example,
            sample_id=SAMPLE_ID_FIRST17 + check_digit(SAMPLE_ID_FIRST17),
            base=str(request.base_url).rstrip("/"),
        )

    async def city_redirect(self, request: Request) -> Response:
        return RedirectResponse(f"/c/{request.path_params['city']}/", status_code=308)

    async def city_page(self, request: Request) -> Response:
        city = _city(request)
        with use_city(city):
            async with self.rt.db.transaction() as s:
                groups = await pages.city_hospitals(s)
                public_log = await pages.message_log_public(s)
        return self.render(request, "city.html", city=city, groups=groups, public_log=public_log)

    async def messages(self, request: Request) -> Response:
        city = _city(request)
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 1
        with use_city(city):
            async with self.rt.db.transaction() as s:
                if not await pages.message_log_public(s):
                    return self.render(request, "no_log.html", status_code=404, city=city)
                result = await pages.messages(s, city, page)
        return self.render(request, "messages.html", city=city, result=result)

    async def healthz(self, request: Request) -> Response:
        """``{status, database, redis}``, each dependency ``ok``, ``down`` (or Redis
        ``disabled`` when none is configured); 503 with ``status: down`` when the database or a
        configured Redis does not answer, so a load balancer or probe sees the truth."""
        database = await self._check(self._database_ok())
        if not self.rt.settings.redis_url:
            redis = "disabled"
        elif self.rt.redis is None:
            redis = "down"
        else:
            redis = await self._check(self.rt.redis.ping())
        healthy = database == "ok" and redis in ("ok", "disabled")
        return JSONResponse(
            {"status": "ok" if healthy else "down", "database": database, "redis": redis},
            status_code=200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def _database_ok(self) -> bool:
        async with self.rt.db.engine.connect() as conn:
            return (await conn.execute(text("SELECT 1"))).scalar() == 1

    @staticmethod
    async def _check(awaitable) -> str:
        try:
            ok = await asyncio.wait_for(awaitable, HEALTH_TIMEOUT)
        except Exception as exc:  # any failure means "down"; the reason goes to the log
            log.warning("health check failed: %r", exc)
            return "down"
        return "ok" if ok else "down"


async def favicon(request: Request) -> FileResponse:
    """The platform's icon, for clients that ask for ``/favicon.ico`` without reading the page."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


def web_routes(rt) -> list:
    """Routes of the platform pages; mounted by ``core.app.create_app``."""
    web = WebPages(rt)
    return [
        Route("/", web.index, name="index"),
        Route("/healthz", web.healthz, name="healthz"),
        Route("/favicon.ico", favicon, name="favicon"),
        Route("/c/{city}", web.city_redirect),
        Route("/c/{city}/", web.city_page, name="city"),
        Route("/c/{city}/messages", web.messages, name="messages"),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
