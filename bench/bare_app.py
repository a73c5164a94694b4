"""A bare Starlette app serving a fixed JSON document: the reference for the read benchmarks."""

import json
import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_app() -> Starlette:
    with open(os.environ["BENCH_PAYLOAD"], encoding="utf-8") as f:
        payload = json.load(f)

    async def document(request):
        return JSONResponse(payload)

    async def healthz(request):
        return Response("ok")

    return Starlette(routes=[Route("/doc", document), Route("/healthz", healthz)])
