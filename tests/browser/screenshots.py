"""Screenshots of the main pages at phone and desktop size, for people to look at.

    .venv/bin/python -m tests.browser.screenshots [--out screenshots] [PATH ...]

Seeds the demo city into a temporary SQLite file, serves it, and writes one PNG per page and
size (``<out>/<name>-phone.png``, ``…-desktop.png``) with Debian's Chromium.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from .server import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, demo_server

PAGES = [
    "/", "/c/demo/", "/c/demo/hospitals/1", "/c/demo/departments/1", "/c/demo/doctors/1", "/c/demo/login",
    "/c/demo/register", "/c/demo/messages", "/api/v1/docs",
]


def _name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="screenshots", help="folder for the PNG files (default: screenshots)")
    ap.add_argument("paths", nargs="*", default=PAGES, help="pages to shoot (default: the main pages)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, demo_server(Path(tmp)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=size == "phone")
            page = context.new_page()
            for path in args.paths:
                page.goto(base + path)
                target = out / f"{_name(path)}-{size}.png"
                page.screenshot(path=str(target), full_page=True)
                print(target)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
