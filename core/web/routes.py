"""Platform pages: landing page, health check."""

from starlette.responses import JSONResponse
from starlette.routing import Route


async def healthz(request):
    return JSONResponse({"status": "ok"})


def web_routes(rt) -> list:
    return [Route("/healthz", healthz)]
