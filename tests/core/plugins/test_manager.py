"""Per-city plugin sets: only enabled plugins are reached, sets are cached and rebuilt."""

import pluggy
import pytest

from guahao.core.hookspecs import hookimpl
from guahao.core.plugins.manager import await_me_maybe, build_manager, call_robust
from guahao.plugins.channels.message_log import MessageLogSender
from guahao.plugins.his.demo import DemoHis
from guahao.plugins.payments.pay_at_hospital import PayAtHospital
from guahao.tenants.service import get_city
from tests.factories import make_city

from .probes import Probe, enable


async def test_a_city_reaches_only_the_plugins_it_enabled(rt, city, register_plugin):
    probe = register_plugin(Probe(), "probe")
    city_a = await enable(rt, city, "probe")
    city_b = await make_city(rt, city.slug + "-b")

    a = await rt.plugins.for_city(city_a)
    b = await rt.plugins.for_city(city_b)
    assert "probe" in a.names and "probe" not in b.names

    b.hook.guahao_booking_event(city=city_b, event={"kind": "created"}, rt=rt)
    assert probe.events == []
    a.hook.guahao_booking_event(city=city_a, event={"kind": "created"}, rt=rt)
    assert probe.events == [(city_a.id, {"kind": "created"})]


async def test_a_plugin_registered_after_the_set_was_built_stays_out(rt, city, register_plugin):
    plugins = await rt.plugins.for_city(city)
    probe = register_plugin(Probe(), "late_probe")
    plugins.hook.guahao_booking_event(city=city, event={"kind": "created"}, rt=rt)
    assert probe.events == []
    rebuilt = await rt.plugins.for_city(city)
    assert rebuilt is not plugins  # the registry changed
    assert "late_probe" not in rebuilt.names


async def test_the_set_is_cached_and_rebuilt_when_the_config_changes(rt, city):
    first = await rt.plugins.for_city(city)
    assert await rt.plugins.for_city(city) is first
    assert [s.name for s in first.notification_senders("sms")] == ["message_log"]

    changed = await enable(rt, city, "message_log", enabled=False)
    assert changed.config_version > city.config_version
    second = await rt.plugins.for_city(changed)
    assert second is not first
    assert "message_log" not in second.names and second.notification_senders() == []
    # A context read before the change (resolver cache) does not roll the set back.
    assert await rt.plugins.for_city(city) is second


async def test_invalidate_forces_a_rebuild(rt, city):
    first = await rt.plugins.for_city(city)
    rt.plugins.invalidate(city.id)
    assert await rt.plugins.for_city(city) is not first


async def test_adapters_and_their_configuration(rt, city):
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": False}, secrets={"token": "s3cret-token"})
    plugins = await rt.plugins.for_city(city)
    assert plugins.names >= {"pay_at_hospital", "demo_his", "message_log"}
    assert isinstance(plugins.payment_provider("pay_at_hospital"), PayAtHospital)
    assert plugins.payment_provider("stripe") is None
    assert isinstance(plugins.his_adapter("demo_his"), DemoHis)
    assert [type(p) for p in plugins.payment_providers()] == [PayAtHospital]
    sender = plugins.notification_senders("sms")[0]
    assert isinstance(sender, MessageLogSender)
    assert plugins.owner(sender) == "message_log"
    assert plugins.settings("demo_his") == {"fail_pushes": False}
    assert plugins.secrets("demo_his") == {"token": "s3cret-token"}
    assert plugins.config_of(plugins.his_adapter("demo_his")) == ({"fail_pushes": False}, {"token": "s3cret-token"})
    assert plugins.secrets("pay_at_hospital") == {}


async def test_a_typo_in_a_hook_implementation_fails_fast(rt):
    class Typo:
        @hookimpl
        def guahao_booking_evnt(self, city, event):
            pass

    with pytest.raises(pluggy.PluginValidationError):
        build_manager({"typo": Typo()})
    with pytest.raises(pluggy.PluginValidationError):
        rt.plugins.register(Typo(), "typo")
    assert "typo" not in rt.plugins.names()


async def test_the_process_manager_holds_the_builtin_plugins(rt):
    assert {"pay_at_hospital", "demo_his", "message_log"} <= set(rt.plugins.names())


async def test_robust_calls_reach_every_plugin_and_collect_failures(rt, city, register_plugin):
    good = register_plugin(Probe(asynchronous=True), "good_probe")
    bad = register_plugin(Probe(fail=True), "bad_probe")
    for name in ("good_probe", "bad_probe"):
        city = await enable(rt, city, name)
    plugins = await rt.plugins.for_city(city)

    outcomes = await call_robust(plugins.hook.guahao_booking_event, city=city, event={"kind": "paid"}, rt=rt)
    by_plugin = {o.plugin: o for o in outcomes}
    assert set(by_plugin) == {"good_probe", "bad_probe", "licensing"}  # licensing hears every city
    assert by_plugin["good_probe"].result == "seen" and by_plugin["good_probe"].error is None
    assert isinstance(by_plugin["bad_probe"].error, RuntimeError)
    assert good.events and bad.events


async def test_await_me_maybe_takes_values_and_awaitables():
    async def coro():
        return 2

    assert await await_me_maybe(1) == 1
    assert await await_me_maybe(coro()) == 2


async def test_configure_tells_the_citys_plugins(rt, city, register_plugin):
    from guahao.core.plugins.manager import configure

    seen = []

    class Listener:
        @hookimpl
        async def guahao_city_configured(self, city):
            seen.append(city.config_version)

    register_plugin(Listener(), "listener")
    city = await enable(rt, city, "listener")
    plugins = await configure(rt, city, "demo_his", settings={"fail_pushes": True})
    assert plugins.settings("demo_his") == {"fail_pushes": True}
    fresh = await get_city(rt.db, city.slug)
    assert seen == [fresh.config_version]
