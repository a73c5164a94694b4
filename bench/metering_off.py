"""The platform with metering taken out, for ``bench.metering``'s reference run only.

Before it serves, this process's plugin manager loses the licensing plugin's metering hooks
(booking, member, notification and reported-usage events); the rest of licensing (the licence
check on bookings) stays, and so does everything else. The app also leaves out the middleware
that counts public API calls. The product offers no such switch: metering is always on.

    python -m uvicorn bench.metering_off:create_app --factory    # the web app
    python -m bench.metering_off worker                           # the arq worker
"""

from __future__ import annotations

import sys

METERING_HOOKS = frozenset({"guahao_booking_event", "guahao_member_event", "guahao_notification_sent",
                            "guahao_usage_reported"})


def without_metering() -> None:
    """Register licensing again without its metering hooks (once per process)."""
    from guahao.core.plugins.manager import plugin_manager

    pm = plugin_manager()
    licensing = pm.get_plugin("licensing")
    if licensing is None or getattr(licensing, "metering_removed", False):
        return
    rest = {name: staticmethod(getattr(licensing, name)) for name in dir(licensing)
            if name.startswith("guahao_") and name not in METERING_HOOKS and callable(getattr(licensing, name))}
    pm.unregister(name="licensing")
    pm.register(type("LicensingWithoutMetering", (), {"metering_removed": True, **rest})(), name="licensing")


def create_app():
    from guahao.core.app import create_app as platform_app
    from guahao.core.usage_api import ApiCallsMiddleware

    without_metering()
    app = platform_app()
    app.user_middleware = [m for m in app.user_middleware if m.cls is not ApiCallsMiddleware]
    return app


if __name__ == "__main__":
    from guahao.core.cli import main

    without_metering()
    sys.exit(main(sys.argv[1:]))
