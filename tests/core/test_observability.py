"""Every response says how long the application took (Server-Timing)."""

import re


async def test_server_timing_header_on_every_response(client, city):
    for path in ("/healthz", f"/api/v1/{city.slug}/hospitals", "/api/v1/nowhere/hospitals"):
        r = await client.get(path)
        assert re.fullmatch(r"app;dur=\d+\.\d", r.headers["server-timing"]), path
