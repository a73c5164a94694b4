"""The ``guahao`` command: run the platform, migrate its database, manage cities, run the demo.

Configuration comes from the environment only (``DATABASE_URL``, ``REDIS_URL``,
``GUAHAO_SECRET_KEY``, … see ``tenants.settings``), exactly as for the web app, so a command
always acts on the database the app uses. Exit codes: 0 ok, 1 error (a clear message, no
traceback for mistakes such as an existing city), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys

from sqlalchemy.exc import DBAPIError

from guahao.tenants.settings import Settings, SettingsError

from .backup import add_backup_commands
from .cells import add_cell_commands
from .cities import add_city_commands
from .common import CliError, add_command, port_from, run, serving_settings, settings_from_env
from .his_config import add_his_config_commands
from .outbox import add_outbox_commands
from .payments import add_payment_commands
from .plugins import add_plugin_commands
from .staff import add_staff_commands

EPILOG = """\
examples:
  guahao demo                         seed the demo city 示例市 and serve it at http://127.0.0.1:8000
  guahao migrate                      create or upgrade the tables of DATABASE_URL
  guahao city create hz 杭州市 --district 330102:上城区 --host guahao.hz.example.cn
  guahao city plugin hz pay_at_hospital
  guahao city rules hz max_active_bookings=3 release_time=08:00
  guahao staff create --city hz --role city_admin --username admin --password 'a-long-secret-1'
  guahao vendor create --username ops --password 'a-long-secret-1'
  guahao serve --host 0.0.0.0 --port 8000
  guahao outbox list hz --failed      deliveries (HIS pushes, refunds, messages) that keep failing

The database comes from DATABASE_URL (default: SQLite at var/guahao.sqlite3); Redis from
REDIS_URL (default: none, jobs run inside the web process). See README.md and deploy/README.md.
"""


# --- serve / worker / migrate -------------------------------------------------------------


def _serve(host: str, port: int, *, reload: bool = False, workers: int = 1, log_format: str = "text",
           log_level: str = "INFO", app=None) -> None:
    import shutil
    import tempfile

    import uvicorn

    from guahao.core.logs import uvicorn_log_config
    from guahao.core.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

    # Several workers share their metrics through files: a fresh folder per run unless the
    # operator named one (PROMETHEUS_MULTIPROC_DIR), whose old values are cleared.
    own_dir = None
    if not os.environ.get(MULTIPROC_ENV, "").strip() and workers > 1 and not reload:
        own_dir = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="guahao-metrics-")
    if os.environ.get(MULTIPROC_ENV, "").strip():
        prepare_multiprocess_dir(os.environ[MULTIPROC_ENV].strip())
    # The app itself decides which proxies' forwarded headers to believe (GUAHAO_TRUSTED_PROXIES);
    # responses do not name the server software (core.web.headers sets the security headers).
    try:
        uvicorn.run(
            app or "guahao.core.app:create_app", factory=app is None, host=host, port=port, reload=reload,
            workers=None if reload else workers, proxy_headers=False, server_header=False,
            log_config=uvicorn_log_config(log_format, log_level),
        )
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


def cmd_serve(args) -> int:
    from guahao.core.logs import log_format

    settings = serving_settings()
    _serve(args.host, args.port, reload=args.reload, workers=args.workers, log_format=log_format(settings),
           log_level=settings.log_level)
    return 0


def cmd_worker(args) -> int:
    try:
        from guahao.core.jobs import run_worker
    except ImportError as exc:
        raise CliError(f"the job worker is not available in this installation ({exc})") from None
    from guahao.core.logs import configure, log_format
    from guahao.core.metrics import serve_worker_metrics

    settings = serving_settings()
    if not settings.redis_url:
        raise CliError("the worker needs Redis: set REDIS_URL (without Redis, `guahao serve` runs the jobs itself)")
    configure(log_format(settings), settings.log_level)
    serve_worker_metrics(settings)
    result = run_worker(settings)
    if inspect.isawaitable(result):
        asyncio.run(result)
    return 0


def _migrate(settings: Settings) -> None:
    from guahao.core.migrate import upgrade

    upgrade(settings)


def cmd_migrate(args) -> int:
    settings = settings_from_env()
    _migrate(settings)
    print(f"database schema is up to date ({_where(settings)})")
    return 0


def _where(settings: Settings) -> str:
    path = settings.sqlite_path()
    if path is not None:
        return f"SQLite {path}"
    from sqlalchemy.engine import make_url

    u = make_url(settings.owner_url)
    return f"PostgreSQL {u.host or 'localhost'}:{u.port or 5432}/{u.database}"


# --- demo ---------------------------------------------------------------------------------


async def _seed(rt, reset: bool, days: int, history_days: int | None = None):
    from guahao.core.demo import drop_city, seed_demo
    from guahao.core.demo.data import CITY_SLUG

    if reset and await drop_city(rt, CITY_SLUG):
        print("removed the old demo city")
    return await seed_demo(rt, days=days, history_days=history_days)


def _print_seed(report) -> None:
    c = report.city
    verb = "seeded" if report.created else "ready"
    added = f", {report.sessions_added} new sessions" if not report.created and report.sessions_added else ""
    print(
        f"{c.name} ({c.slug}) {verb}: {report.hospitals} hospitals, {report.departments} departments, "
        f"{report.doctors} doctors, {report.sessions} sessions {report.first_day} … {report.last_day}{added} "
        f"[{report.seconds:.1f} s]"
    )
    h = report.history
    if h is not None and h.bookings:
        print(f"  history {h.first_day} … {h.last_day}: {h.bookings:,} bookings, {h.members:,} members, "
              f"{h.notifications:,} messages, {h.surveys:,} surveys, {h.complaints:,} complaints [{h.seconds:.1f} s]")


def _print_logins() -> None:
    from guahao.core.demo import demo_logins

    print("\nDemo logins (log in with the phone number or the ID number):")
    for m in demo_logins():
        print(f"  {m['name']}  phone {m['phone']}  ID {m['id_number']}  password {m['password']}")
    from guahao.core.demo import demo_staff_logins

    print("\nOperator console /console/ (staff log in at /console/c/demo/login, the vendor at /console/login):")
    for a in demo_staff_logins():
        print(f"  {a['username']:<16} {a['role']:<15} password {a['password']}")


def cmd_seed_demo(args) -> int:
    report = run(_seed, args.reset, args.days, args.history_days)
    _print_seed(report)
    _print_logins()
    return 0


def cmd_demo(args) -> int:
    from guahao.core.demo.data import KIOSK_TERMINAL

    settings = serving_settings()
    print(f"database: {_where(settings)}")
    _migrate(settings)
    report = run(_seed, args.reset, args.days, args.history_days)
    _print_seed(report)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{shown}:{args.port}"
    print(
        f"\nOpen {base}/  — what this is and where to go\n"
        f"     {base}/c/{report.city.slug}/  — the demo city's hospitals\n"
        f"     {base}/api/v1/docs  — the public API\n"
        f"     {base}/c/{report.city.slug}/messages  — messages the platform sent (demo message log)\n"
        f"     {base}/c/{report.city.slug}/kiosk/?terminal={KIOSK_TERMINAL}  — the kiosk (makes this browser the demo terminal)\n"
        f"     {base}/console/  — the operator console (staff and vendor)"
    )
    _print_logins()
    if args.no_serve:
        return 0
    app = _demo_app(settings, settings.public_base_url or base)
    print("\nServing; stop with Ctrl+C.\n", flush=True)
    _serve(args.host, args.port, app=app)
    return 0


async def _practice(rt, base: str):
    from guahao.core.demo.data import CITY_SLUG
    from guahao.core.demo.practice import PREFIX, open_practice_payments, practice_hospitals
    from guahao.tenants.service import get_city

    city = await get_city(rt.db, CITY_SLUG)
    gateways = await open_practice_payments(rt, city, base) if city is not None else {}
    if gateways:
        print("\nOnline payment through practice gateways the demo serves itself (no real money, no account):")
        for plugin, hospitals in practice_hospitals().items():
            if plugin in gateways:
                meta = rt.plugins.meta(plugin)
                print(f"  {meta.verbose_name if meta else plugin}: {'、'.join(hospitals)}  — {base}{PREFIX}/{plugin}/")
        print("  the other hospitals: pay at the hospital")
    return gateways


def _demo_app(settings: Settings, base: str):
    """The demo's app: the platform running the plugins' worker tasks itself (the practice HIS
    of its hospital on HL7 v2), and the payment plugins' practice gateways at ``base/practice/…``
    with the demo city paying online through them (embedded demo only)."""
    from guahao.core.app import create_app
    from guahao.core.demo.background import DemoBackground
    from guahao.core.demo.practice import PracticeMounts

    return PracticeMounts(DemoBackground(create_app(settings)), run(_practice, base))


# --- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    default_port = port_from(os.environ.get("PORT"))
    parser = argparse.ArgumentParser(
        prog="guahao",
        description="guahao: a city-wide hospital appointment registration platform (预约挂号公共服务平台).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = add_command(subs, "serve", "Serve the web app and the public API with uvicorn.", cmd_serve,
             "example:\n  guahao serve --host 0.0.0.0 --port 8000 --workers 4")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=default_port, help="port to listen on (default $PORT or 8000)")
    p.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")

    add_command(subs, "worker", "Run the background job worker (arq; needs REDIS_URL).", cmd_worker,
         "example:\n  REDIS_URL=redis://127.0.0.1:6379/0 guahao worker")
    add_command(subs, "migrate", "Create or upgrade the database tables (run before serving a new version).",
         cmd_migrate, "example:\n  DATABASE_URL=postgresql://guahao@db/guahao guahao migrate")

    p = add_command(subs, "demo", "Migrate, seed the demo city 示例市 if missing, print the demo logins and serve.",
             cmd_demo, "example:\n  guahao demo --port 8123")
    p.add_argument("--reset", action="store_true", help="delete the demo city and seed it afresh")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=default_port, help="port to listen on (default $PORT or 8000)")
    p.add_argument("--no-serve", action="store_true", help="seed and print, then exit without serving")
    p.add_argument("--days", type=int, default=14, help="days of sessions from today (default 14)")
    p.add_argument("--history-days", type=int, default=None,
                   help="days of past activity for a new demo city (default 30 with the full fortnight, else 0)")

    p = add_command(subs, "seed-demo", "Seed the demo city 示例市 (or add the days its schedule lacks).",
             cmd_seed_demo, "example:\n  guahao seed-demo --reset")
    p.add_argument("--reset", action="store_true", help="delete the demo city and seed it afresh")
    p.add_argument("--days", type=int, default=14, help="days of sessions from today (default 14)")
    p.add_argument("--history-days", type=int, default=None,
                   help="days of past activity for a new demo city (default 30 with the full fortnight, else 0)")

    add_city_commands(subs, EPILOG)
    add_backup_commands(subs, EPILOG)
    add_cell_commands(subs, EPILOG)
    add_plugin_commands(subs, EPILOG)
    add_staff_commands(subs, EPILOG)
    add_outbox_commands(subs, EPILOG)
    add_his_config_commands(subs, EPILOG)
    add_payment_commands(subs, EPILOG)
    _add_installed_commands(subs)
    return parser


COMMANDS_GROUP = "guahao.commands"


def _add_installed_commands(subs) -> None:
    """Commands of the packages installed beside core (entry-point group ``guahao.commands``,
    e.g. licensing's ``usage``, ``contract``, ``invoice`` and ``licence``): each entry point is
    called with the subparsers and adds its commands (``core.cli.common.add_command``)."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        ep.load()(subs)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``guahao`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args) or 0
    except (CliError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:
        print(f"error: database: {_db_problem(exc)}", file=sys.stderr)
        return 1
    except (ConnectionError, OSError) as exc:
        print(f"error: cannot reach a service: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _db_problem(exc: DBAPIError) -> str:
    text = str(exc.orig or exc).strip().splitlines()[0]
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return f"{text} — the tables are missing: run `guahao migrate` first"
    return text
