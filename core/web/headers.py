"""Security headers on every response: the patient site and kiosk, the API, the console, the
platform pages, static files and the answers middleware gives on its own (an unknown city).

- ``Content-Security-Policy``: scripts only from this site's own files — no inline script, no
  ``on…=`` handlers, no ``javascript:`` URLs, no eval (data for scripts travels in
  ``<script type="application/json">`` blocks, which are never run); styles from this site and
  inline (the city's branding colours and the receipt's page size are inline ``<style>``);
  images also from ``data:`` and HTTPS (a city's logo may live on its own web site); no
  plugins; no framing by any page (``frame-ancestors 'none'``, and ``X-Frame-Options: DENY``
  for older browsers). A kiosk runs the site full-screen, not in a frame, so it needs no
  exception.
- ``Strict-Transport-Security`` only on responses to HTTPS requests (the request's own scheme,
  which forwarded headers set only for trusted proxies): a plain-HTTP development server must
  not pin browsers to HTTPS.
- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin`` (booking numbers
  and tokens in URLs never reach another site).

A response that sets one of these itself keeps its own value. The ``server`` header is left
out by the server (``guahao serve`` runs uvicorn with ``server_header=False``).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: https:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every HTTP response.

    Parameters:
        app: the ASGI app to wrap (outermost, so that every answer passes through it).
        hsts: the ``Strict-Transport-Security`` value sent over HTTPS (``""``: none).
    """

    def __init__(self, app, hsts: str = HSTS):
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                # The scheme is read now: trusted proxies' forwarded headers have rewritten it.
                if self.hsts and scope.get("scheme") == "https":
                    headers.setdefault("Strict-Transport-Security", self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
