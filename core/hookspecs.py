"""Hook specifications: what plugins (channels, payments, HIS, licensing) can implement.

Project prefix ``guahao_``. Registration hooks collect lists; ``firstresult`` hooks stop at the
first non-None result. Implementations may take a subset of the arguments, so specs can grow.
Core calls them only through a city's plugin set (``core.plugins.manager``), never globally.
Any implementation may be a coroutine function; core resolves results with ``await_me_maybe``.
Hooks that hand over an event also pass ``rt``, the runtime, for a plugin that keeps its own
tables (``plugin_api.city_session(rt, city)``).
Lifecycle hooks are called robustly: one failing plugin does not keep the others from the event.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("guahao")
hookimpl = pluggy.HookimplMarker("guahao")


# --- registration -------------------------------------------------------------------------


@hookspec
def guahao_payment_providers():
    """Return payment provider objects (``core.plugins.interfaces.PaymentProvider``)."""


@hookspec
def guahao_his_adapters():
    """Return HIS adapter objects (``core.plugins.interfaces.HisAdapter``)."""


@hookspec
def guahao_notification_senders():
    """Return notification sender objects (``core.plugins.interfaces.NotificationSender``)."""


@hookspec
def guahao_routes():
    """Return Starlette routes mounted at ``/c/{city}/plugins/{plugin}/`` for inbound traffic."""


@hookspec
def guahao_city_pages():
    """Return Starlette routes served at the city root ``/c/{city}/…`` (a channel's own site)
    for cities that enabled the plugin; other cities fall through to the platform's pages."""


@hookspec
def guahao_site_request(city, request, member_id, rt):
    """A GET of a page of the city's patient site (the ``web`` channel) with the logged-in
    member's id (``None`` for a visitor): return a Starlette ``Response`` to answer it instead
    of the page (e.g. a redirect through the sign-in of the app the page was opened in), or
    ``None`` to let the page answer. The first response of the city's plugins wins."""


@hookspec
def guahao_api_routes():
    """Return ``(prefix, routes)``: a standard API of the plugin's own (e.g. FHIR) served at
    ``/{prefix}/{city}/…`` for cities that enabled the plugin (404 elsewhere and for an unknown
    city). The prefix is one path segment; the routes authenticate their callers themselves."""


@hookspec
def guahao_outbox_handlers():
    """Return ``{topic: async handler(ctx, payload)}`` for side-effect kinds the plugin runs.

    ``ctx`` is a ``core.jobs.context.JobContext`` (runtime, city, the city's plugins, message id,
    attempt). Name topics after the plugin (``licensing.meter``); core topics cannot be replaced.
    A handler raises to be retried with back-off and must be idempotent.
    """


# --- lifecycle ----------------------------------------------------------------------------


@hookspec
def guahao_booking_event(city, event, rt):
    """Receive a committed booking event (dict: kind, booking_id, member_id, at, data…)."""


@hookspec
def guahao_booking_checks(city, member, clinic_session, period, channel, rt):
    """Refuse a booking: return an extra rule's error code (str), or a ``DomainError`` that
    says in its own words why (its code, zh-CN message, and ``details["message_en"]``);
    return None to allow it."""


@hookspec
def guahao_city_configured(city):
    """Called after a city's plugin configuration changed."""


@hookspec
def guahao_notification_sent(city, notification, rt):
    """Receive a delivered notification (dict: id, kind, sender, channel, member_id, booking_id)."""


@hookspec
def guahao_member_event(city, event, rt):
    """Receive a committed member event (dict: kind, member_id, at, channel…), e.g. ``registered``."""


@hookspec
def guahao_usage_reported(city, usage, rt):
    """Receive usage a plugin reported with ``plugin_api.report_usage`` (dict: meter, quantity,
    source_id, occurred_at, dimensions), after its transaction committed."""


# --- demo ---------------------------------------------------------------------------------


@hookspec
def guahao_demo_seed(rt, city):
    """Add the plugin's own demo data to the freshly seeded demo city (``guahao demo``)."""


@hookspec
def guahao_demo_practice(base_url):
    """Return the plugin's practice service for the embedded demo, or None: a local stand-in
    for the outside service the plugin talks to (e.g. a payment provider's API and cashier
    page) that ``guahao demo`` serves itself at ``base_url`` (``…/practice/{plugin}``). The
    object has ``app`` (ASGI) and ``account()``, which opens a new account there and returns
    ``{"settings": …, "secrets": …}`` for the plugin (the city's or a hospital's own). Never
    called for a production server."""


# --- worker -------------------------------------------------------------------------------


@hookspec
def guahao_worker_tasks(rt):
    """Return async callables ``task()`` that ``guahao worker`` runs beside its jobs for as long
    as it runs (e.g. an MLLP listener for a HIS); each is cancelled when the worker stops. Called
    once per worker on every installed plugin; a task decides for itself which cities it serves."""
