"""The one settings object, read from the environment.

Every knob that differs between the embedded default (SQLite, no Redis) and production
(PostgreSQL, Redis, Sentry) is here, so the same code runs both ways. Nothing else reads the
environment: code takes these settings (the runtime's ``rt.settings``).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from .rate_limits import DEFAULT_RATE_LIMITS, RateLimitError, parse_rate_limits
from .rls import platform_role

DEFAULT_SQLITE = "sqlite+aiosqlite:///var/guahao.sqlite3"
# The embedded demo's key. It is public (it is in this file): a production server refuses it.
DEV_SECRET = "guahao-dev-secret-change-me-in-production-0123456789"
MIN_KEY_LENGTH = 32
NEW_KEY_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


class SettingsError(ValueError):
    """A setting the process cannot run with; the message is one line naming the variable."""


class InsecureKeys(SettingsError):
    """The keys do not suit a production server; the message is one line naming the variable."""


DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_BODY = 1024 * 1024


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, not {text!r}")
    return int(text)


def _flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes")


def _key_list(value: str) -> tuple[str, ...]:
    """Comma-separated keys (``GUAHAO_SECRET_KEYS_OLD``), blanks dropped."""
    return tuple(k.strip() for k in value.split(",") if k.strip())


def _licence_keys(value: str) -> tuple[str, ...]:
    """``GUAHAO_LICENCE_PUBLIC_KEYS``: PASERKs or PEMs separated by commas, or a file of them."""
    value = value.strip()
    if value and not value.startswith(("k4.", "-----")) and Path(value).is_file():
        value = Path(value).read_text(encoding="utf-8")
    keys: list[str] = []
    for pem in re.findall(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", value, re.S):
        keys.append(pem)
        value = value.replace(pem, "")
    keys += [k for k in re.split(r"[,\s]+", value) if k]
    return tuple(keys)


def _percent(env: dict[str, str], name: str, default: str) -> str:
    text = env.get(name, "").strip() or default
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise SettingsError(f"{name} must be a percentage such as 6 or 13, not {text!r}") from None
    if not Decimal(0) <= number <= Decimal(100):
        raise SettingsError(f"{name} must be between 0 and 100, not {text!r}")
    return text


def _rate_limits(text: str) -> dict[str, str]:
    try:
        return parse_rate_limits(text)
    except RateLimitError as exc:
        raise SettingsError(f"GUAHAO_RATE_LIMITS: {exc}") from None


def _async_url(url: str) -> str:
    """Name the async driver for a plain database URL (postgresql:// → asyncpg)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    elif u.drivername == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    return u.render_as_string(hide_password=False)


def _as_user(url: str, user: str) -> str:
    """``url`` logging in as ``user``, without the owner's password (trust auth, or a
    ``.pgpass`` entry, supplies the login's own)."""
    u = make_url(url)._replace(username=user, password=None)
    return u.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Settings:
    """Runtime configuration.

    Parameters:
        database_url: owner connection; migrations run with it (env ``DATABASE_URL``).
        database_app_url: the application's connection. On PostgreSQL it is a role that is
            neither superuser nor table owner, so row-level security applies to it
            (env ``DATABASE_APP_URL``; default: ``database_url`` with the user set to
            ``app_role`` and without the owner's password).
        app_role: PostgreSQL role the application uses (env ``DATABASE_APP_ROLE``).
        database_platform_url: the connection for cross-city work (``platform_scope``): a login
            role of its own with BYPASSRLS, which the application role cannot switch to
            (env ``DATABASE_PLATFORM_URL``; default: ``database_url`` with the user set to
            ``<app_role>_platform`` and without the owner's password). Only processes that do
            platform-scope work connect with it.
        redis_url: Redis for arq jobs and the sold-out gate; empty runs jobs in-process.
        secret_key: signs bearer tokens and session cookies (env ``GUAHAO_SECRET_KEY``).
        data_key: encrypts personal data and plugin secrets, keys the ID-number hash
            (env ``GUAHAO_DATA_KEY``; unset: the secret key does this too).
        sentry_dsn: errors go to Sentry when set.
        token_ttl_seconds: lifetime of a member API access token (15 minutes; clients get new
            ones with their refresh token, ``core.members.refresh``).
        outbox_poll_seconds: how often the relay looks for due side effects.
        run_outbox_in_process: drain the outbox inside the web process (embedded mode).
        availability_cache_seconds: how long an availability answer is reused in a process
            (a micro-cache for the release rush; 0 turns it off). Bookings are decided by the
            database, never by this cache.
        public_base_url: the site's address for links in messages (``https://guahao.example.cn``;
            env ``GUAHAO_PUBLIC_BASE_URL``); a city's own host name wins; empty keeps links relative.
        outbox_job_timeout_seconds: longest run of one outbox job under arq (env
            ``GUAHAO_OUTBOX_JOB_TIMEOUT_SECONDS``).
        outbox_requeue_after_seconds: a row still ``queued`` this long after its run began (or
            after it was handed to arq) is handed over again: the run of a worker that died is
            taken up by another worker after about this long (default 130 s; never less than
            ``outbox_job_timeout_seconds`` + 5; env ``GUAHAO_OUTBOX_REQUEUE_AFTER_SECONDS``).
        extra: further knobs; ``arq_namespace`` separates deployments (or test runs) sharing
            one Redis (env ``GUAHAO_ARQ_NAMESPACE``).
        secret_keys_old: earlier secret keys that still verify tokens and cookies while the
            ones they signed live out; nothing new is signed with them
            (env ``GUAHAO_SECRET_KEYS_OLD``, comma-separated).
        data_keys_old: earlier data keys that still decrypt and find what they encrypted and
            hashed; new values use ``data_key`` (env ``GUAHAO_DATA_KEYS_OLD``, comma-separated).
        environment: ``production`` demands real keys even on SQLite without Redis
            (env ``GUAHAO_ENV``); PostgreSQL or Redis demand them anyway.
        db_pool_size: PostgreSQL connections a process keeps (and as many again in overflow);
            the booking gate lets twice as many booking transactions run at once
            (env ``GUAHAO_DB_POOL_SIZE``).
        db_pre_ping: test a pooled connection before each use (env ``GUAHAO_DB_PRE_PING``;
            off: it costs a round trip on the booking rush's hot path).
        import_dir: where console catalogue uploads wait between preview and apply; with
            several web servers a folder they share (env ``GUAHAO_IMPORT_DIR``; empty: a
            folder in the system's temporary directory, see :attr:`import_path`).
        trusted_proxies: addresses (or networks, or ``*``) of the reverse proxies whose
            ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed: the client address that
            throttles count and the https that makes cookies Secure come from them only
            (env ``GUAHAO_TRUSTED_PROXIES``, comma-separated; default the local nginx,
            ``127.0.0.1``; empty: believe no one).
        licence_public_keys: the vendor's Ed25519 public keys (PEM or PASERK ``k4.public.…``)
            that licences must be signed with (env ``GUAHAO_LICENCE_PUBLIC_KEYS``, several
            separated by commas or given as a path to a file holding them).
        licence_required: a city without a valid licence takes no new bookings (env
            ``GUAHAO_LICENCE_REQUIRED``; default on when ``GUAHAO_ENV=production``). Off, a
            city without a licence works and its console says it is unlicensed.
        vat_percent: the VAT rate invoices show, in percent (env ``GUAHAO_VAT_PERCENT``,
            default ``6``).
        max_body_bytes: the largest request body the app reads; a larger one is refused with
            413 before any parsing (env ``GUAHAO_MAX_BODY_BYTES``, default 1 MiB; the console's
            catalogue upload has a cap of its own, ``core.web.limits``).
        rate_limits: request limits against scalpers that differ from
            ``tenants.rate_limits.DEFAULT_RATE_LIMITS`` (env ``GUAHAO_RATE_LIMITS``, e.g.
            ``register_ip=3/hour;10/day,search_ip=60/minute``); see :meth:`rate_limit`.
        log_format: ``json`` or ``text`` for the log lines of ``guahao serve`` and ``guahao
            worker`` (env ``GUAHAO_LOG_FORMAT``; empty: JSON in production, text for the demo).
        log_level: the lowest level logged (env ``GUAHAO_LOG_LEVEL``, default ``INFO``).
        metrics_allow: addresses or networks that may read ``/metrics`` (env
            ``GUAHAO_METRICS_ALLOW``, comma-separated); ``None``: loopback and the trusted proxies.
        metrics_token: a bearer token that may read ``/metrics`` from anywhere (env
            ``GUAHAO_METRICS_TOKEN``; empty: none).
        metrics_dir: the folder where several worker processes share their metrics (env
            ``PROMETHEUS_MULTIPROC_DIR``, prometheus-client's own; ``guahao serve --workers N``
            sets one per run); empty: each process counts alone.
        worker_metrics_port, worker_metrics_addr: where ``guahao worker`` serves its own
            metrics (env ``GUAHAO_WORKER_METRICS_PORT``, none by default, and
            ``GUAHAO_WORKER_METRICS_ADDR``, default ``127.0.0.1``).
    """

    database_url: str = DEFAULT_SQLITE
    database_app_url: str = ""
    app_role: str = "guahao_app"
    database_platform_url: str = ""
    redis_url: str = ""
    secret_key: str = field(default=DEV_SECRET, repr=False)
    data_key: str = field(default="", repr=False)
    sentry_dsn: str = ""
    token_ttl_seconds: int = 15 * 60
    outbox_poll_seconds: float = 1.0
    run_outbox_in_process: bool | None = None
    availability_cache_seconds: float = 1.0
    outbox_job_timeout_seconds: float = 120.0
    outbox_requeue_after_seconds: float = 130.0
    public_base_url: str = ""
    debug: bool = False
    extra: dict = field(default_factory=dict)
    secret_keys_old: tuple[str, ...] = field(default=(), repr=False)
    data_keys_old: tuple[str, ...] = field(default=(), repr=False)
    environment: str = ""
    db_pool_size: int = DEFAULT_POOL_SIZE
    db_pre_ping: bool = False
    import_dir: str = ""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    licence_public_keys: tuple[str, ...] = ()
    licence_required: bool = False
    vat_percent: str = "6"
    max_body_bytes: int = DEFAULT_MAX_BODY
    rate_limits: dict = field(default_factory=dict)
    log_format: str = ""
    log_level: str = "INFO"
    metrics_allow: tuple[str, ...] | None = None
    metrics_token: str = field(default="", repr=False)
    metrics_dir: str = ""
    worker_metrics_port: int | None = None
    worker_metrics_addr: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = dict(
            database_url=env.get("DATABASE_URL", DEFAULT_SQLITE),
            database_app_url=env.get("DATABASE_APP_URL", ""),
            app_role=env.get("DATABASE_APP_ROLE", "guahao_app"),
            database_platform_url=env.get("DATABASE_PLATFORM_URL", ""),
            redis_url=env.get("REDIS_URL", ""),
            secret_key=env.get("GUAHAO_SECRET_KEY", "").strip() or DEV_SECRET,
            data_key=env.get("GUAHAO_DATA_KEY", "").strip(),
            sentry_dsn=env.get("SENTRY_DSN", ""),
            debug=_flag(env, "GUAHAO_DEBUG"),
            availability_cache_seconds=float(env.get("GUAHAO_AVAILABILITY_CACHE_SECONDS", "1.0")),
            public_base_url=env.get("GUAHAO_PUBLIC_BASE_URL", "").rstrip("/"),
        )
        values.update(
            outbox_job_timeout_seconds=float(env.get("GUAHAO_OUTBOX_JOB_TIMEOUT_SECONDS", "120")),
            outbox_requeue_after_seconds=float(env.get("GUAHAO_OUTBOX_REQUEUE_AFTER_SECONDS", "130")),
            secret_keys_old=_key_list(env.get("GUAHAO_SECRET_KEYS_OLD", "")),
            data_keys_old=_key_list(env.get("GUAHAO_DATA_KEYS_OLD", "")),
            environment=env.get("GUAHAO_ENV", "").strip().lower(),
            db_pool_size=_positive_int(env, "GUAHAO_DB_POOL_SIZE", DEFAULT_POOL_SIZE),
            db_pre_ping=_flag(env, "GUAHAO_DB_PRE_PING"),
            import_dir=env.get("GUAHAO_IMPORT_DIR", "").strip(),
            trusted_proxies=_key_list(env.get("GUAHAO_TRUSTED_PROXIES", "127.0.0.1")),
            licence_public_keys=_licence_keys(env.get("GUAHAO_LICENCE_PUBLIC_KEYS", "")),
            licence_required=_flag(env, "GUAHAO_LICENCE_REQUIRED")
            if env.get("GUAHAO_LICENCE_REQUIRED", "").strip()
            else env.get("GUAHAO_ENV", "").strip().lower() == "production",
            vat_percent=_percent(env, "GUAHAO_VAT_PERCENT", "6"),
            max_body_bytes=_positive_int(env, "GUAHAO_MAX_BODY_BYTES", DEFAULT_MAX_BODY),
            rate_limits=_rate_limits(env.get("GUAHAO_RATE_LIMITS", "")),
            log_format=env.get("GUAHAO_LOG_FORMAT", "").strip().lower(),
            log_level=env.get("GUAHAO_LOG_LEVEL", "").strip().upper() or "INFO",
            metrics_allow=_key_list(env["GUAHAO_METRICS_ALLOW"]) if "GUAHAO_METRICS_ALLOW" in env else None,
            metrics_token=env.get("GUAHAO_METRICS_TOKEN", "").strip(),
            metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR", "").strip(),
            worker_metrics_port=_positive_int(env, "GUAHAO_WORKER_METRICS_PORT", 0) or None,
            worker_metrics_addr=env.get("GUAHAO_WORKER_METRICS_ADDR", "").strip() or "127.0.0.1",
        )
        if env.get("GUAHAO_ARQ_NAMESPACE"):
            values["extra"] = {"arq_namespace": env["GUAHAO_ARQ_NAMESPACE"]}
        values.update(overrides)
        return cls(**values)

    def rate_limit(self, name: str) -> str:
        """The windows of a rate-limit rule (``5/hour;20/day``): configured, else the default."""
        return str(self.rate_limits.get(name) or DEFAULT_RATE_LIMITS[name])

    @property
    def production(self) -> bool:
        """Beyond the embedded demo: PostgreSQL, Redis, or ``GUAHAO_ENV=production``."""
        return self.is_postgres or bool(self.redis_url) or self.environment == "production"

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The keys a signature is checked against: the signing key first, then the old ones."""
        return (self.secret_key, *self.secret_keys_old)

    @property
    def data_keys(self) -> tuple[str, ...]:
        """The keys of the data cipher: the one that encrypts first, then the old ones."""
        return (self.data_key or self.secret_key, *self.data_keys_old)

    def key_problem(self) -> str | None:
        """Why these keys must not serve (one line, naming the variable), or ``None``.

        Rotated keys need a data key of their own (else the data key would change with the
        secret key). Beyond the embedded demo every key that signs or verifies, and the data
        key when set, must be at least ``MIN_KEY_LENGTH`` characters and not ``DEV_SECRET``.
        """
        if (self.secret_keys_old or self.data_keys_old) and not self.data_key:
            return ("GUAHAO_DATA_KEY is not set while keys are rotated: set it to the key the stored data "
                    "was encrypted with (the former GUAHAO_SECRET_KEY if it was never set)")
        if not self.production:
            return None
        named = [("GUAHAO_SECRET_KEY", self.secret_key), *(("GUAHAO_SECRET_KEYS_OLD", k) for k in self.secret_keys_old)]
        if self.data_key:
            named.append(("GUAHAO_DATA_KEY", self.data_key))
        for name, key in named:
            if key == DEV_SECRET or len(key) < MIN_KEY_LENGTH:
                return (f"{name} is unset, shorter than {MIN_KEY_LENGTH} characters or the public development key; "
                        f"a server on PostgreSQL or Redis (or GUAHAO_ENV=production) needs its own: {NEW_KEY_HINT}")
        return None

    def require_keys(self) -> None:
        """Raise :class:`InsecureKeys` when :meth:`key_problem` finds one."""
        problem = self.key_problem()
        if problem is not None:
            raise InsecureKeys(problem)

    @property
    def is_postgres(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "postgresql"

    @property
    def owner_url(self) -> str:
        return _async_url(self.database_url)

    @property
    def app_url(self) -> str:
        if self.database_app_url:
            return _async_url(self.database_app_url)
        if not self.is_postgres:
            return self.owner_url
        return _as_user(self.owner_url, self.app_role)

    @property
    def platform_url(self) -> str:
        """Where platform-scope transactions connect: the platform login on PostgreSQL, the
        one database file on SQLite."""
        if self.database_platform_url:
            return _async_url(self.database_platform_url)
        if not self.is_postgres:
            return self.owner_url
        return _as_user(self.owner_url, platform_role(self.app_role))

    @property
    def outbox_in_process(self) -> bool:
        if self.run_outbox_in_process is not None:
            return self.run_outbox_in_process
        return not self.redis_url

    @property
    def import_path(self) -> Path:
        """The folder of pending console uploads (``import_dir``, else one in the temp directory)."""
        return Path(self.import_dir) if self.import_dir else Path(tempfile.gettempdir()) / "guahao-console-imports"

    def sqlite_path(self) -> Path | None:
        u = make_url(self.database_url)
        if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
            return None
        return Path(u.database)
