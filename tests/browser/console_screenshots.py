"""Screenshots of the health-bureau dashboards at laptop and tablet size, for people to look at.

    .venv/bin/python -m tests.browser.console_screenshots [--out screenshots] [--days 90]

Seeds the demo city into a temporary SQLite file, adds ``--days`` of booking history before
today (``tests.browser.history``: the demo city alone has only the fortnight ahead), serves
it, logs in as the demo's city-wide bureau viewer and writes one PNG per page and size
(``<out>/dashboards-<page>-laptop.png``, ``…-tablet.png``), plus the overview of the
district viewer ``bureau.east``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from guahao.core.demo.staff import PASSWORD

from .server import CHROMIUM, CHROMIUM_ARGS, ROOT, demo_server

LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}

# name → (path under /console/c/demo/, query): each report grouped the way it reads best.
SHOTS = {
    "overview": ("dashboards", "range=90"),
    "bookings": ("dashboards/bookings", "range=30&group=hospital"),
    "bookings-by-day": ("dashboards/bookings", "range=90&group=day"),
    "no-show": ("dashboards/no_show", "range=90&group=time_period"),
    "slots": ("dashboards/slots", "range=30&group=district"),
    "complaints": ("dashboards/complaints", "range=90&group=category"),
    "satisfaction": ("dashboards/satisfaction", "range=90&group=hospital"),
    "referrals": ("dashboards/referrals", "range=90&group=centre"),
    "comparison": ("dashboards/comparison", "range=30&group=hospital"),
}


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/console/c/demo/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base + "/console/c/demo/")


def _shoot(page, url: str, target: Path) -> None:
    page.goto(url)
    page.wait_for_function("[...document.querySelectorAll('[data-chart]')].every(e => e.dataset.drawn)")
    page.screenshot(path=str(target), full_page=True)
    print(target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="screenshots", help="folder for the PNG files (default: screenshots)")
    ap.add_argument("--days", type=int, default=90, help="days of booking history to generate (default 90)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    def history(env: dict) -> None:
        subprocess.run([sys.executable, "-m", "tests.browser.history", "--days", str(args.days)], cwd=ROOT, env=env,
                       check=True)

    with tempfile.TemporaryDirectory() as tmp, demo_server(Path(tmp), history) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for size, viewport in (("laptop", LAPTOP), ("tablet", TABLET)):
            context = browser.new_context(viewport=viewport, locale="zh-CN", has_touch=size == "tablet")
            page = context.new_page()
            page.set_default_timeout(30_000)
            _login(page, base, "bureau")
            for name, (path, query) in SHOTS.items():
                _shoot(page, f"{base}/console/c/demo/{path}?{query}", out / f"dashboards-{name}-{size}.png")
            context.close()
        context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
        page = context.new_page()
        _login(page, base, "bureau.east")
        _shoot(page, f"{base}/console/c/demo/dashboards?range=90", out / "dashboards-overview-district-laptop.png")
        context.close()
        browser.close()


if __name__ == "__main__":
    main()
