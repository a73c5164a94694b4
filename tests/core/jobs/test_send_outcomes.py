"""What delivery does with each outcome a sender reports (``SendResult`` or a raised error):
the notification's status says sent, retrying, failed or skipped, and the outbox retries only
what may still succeed."""

from __future__ import annotations

from collections import deque

import pytest

from guahao.core.hookspecs import hookimpl
from guahao.core.jobs import MAX_ATTEMPTS, process_outbox_message
from guahao.core.notifications import SendFailed, deliver, failed_notifications
from guahao.core.plugins.http import TransportError
from guahao.core.plugins.interfaces import NotificationSender, SendResult
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.plugins.probes import emit_row, enable, make_member, outbox_rows

from .sms_city import notes


class ScriptedSender(NotificationSender):
    """Answers each send with the next scripted outcome (a ``SendResult``, or an exception to raise)."""

    name = "scripted_sms"
    channels = frozenset({"sms"})
    priority = 1

    def __init__(self) -> None:
        self.outcomes: deque = deque()
        self.calls = 0

    async def send(self, city, message, settings, secrets):
        self.calls += 1
        outcome = self.outcomes.popleft()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class ScriptedPlugin:
    def __init__(self) -> None:
        self.sender = ScriptedSender()

    @hookimpl
    def guahao_notification_senders(self):
        return [self.sender]


@pytest.fixture
async def scripted(rt, city, register_plugin):
    plugin = register_plugin(ScriptedPlugin(), "scripted_sms")
    city = await enable(rt, city, "scripted_sms")
    member = await make_member(rt, city)
    return city, member, plugin.sender


async def announce(rt, city, member, text: str, **fields) -> int:
    return await emit_row(rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": text}},
                          **fields)


async def test_a_retryable_failure_is_retrying_until_it_is_sent(rt, scripted):
    city, member, sender = scripted
    sender.outcomes.extend([SendResult.failed("gateway busy", retry_after=30), SendResult.sent("REF-1")])
    outbox_id = await announce(rt, city, member, "一")
    assert await process_outbox_message(rt, outbox_id) == "pending"
    [note] = await notes(rt, city)
    assert (note.status, note.error, note.attempts) == ("retrying", "gateway busy", 1)
    [listed] = await failed_notifications(rt, city)
    assert listed["status"] == "retrying" and not listed["final"]

    [row] = await outbox_rows(rt, city, id=outbox_id)
    assert "scripted_sms: gateway busy" in row.last_error
    with frozen(row.due_at):
        assert await process_outbox_message(rt, outbox_id) == "done"
    [note] = await notes(rt, city)
    assert (note.status, note.error, note.attempts) == ("sent", "", 2) and await failed_notifications(rt, city) == []


async def test_a_permanent_failure_or_a_permanent_transport_error_is_final_at_once(rt, scripted):
    city, member, sender = scripted
    sender.outcomes.extend([
        SendResult.refused("template rejected"),
        TransportError("HTTP 400 Bad Request", permanent=True, code="http_400", status=400),
    ])
    first, second = await announce(rt, city, member, "一"), await announce(rt, city, member, "二")
    assert await process_outbox_message(rt, first) == "done"
    assert await process_outbox_message(rt, second) == "done"
    assert sender.calls == 2
    assert [(n.status, n.error) for n in await notes(rt, city)] == [
        ("failed", "template rejected"), ("failed", "HTTP 400 Bad Request"),
    ]
    assert all(r["final"] and r["status"] == "failed" for r in await failed_notifications(rt, city))


async def test_a_temporary_transport_error_or_a_sender_crash_is_retried(rt, scripted):
    city, member, sender = scripted
    sender.outcomes.extend([TransportError("no answer within 10 s", code="timeout"), RuntimeError("bug in the sender")])
    first, second = await announce(rt, city, member, "一"), await announce(rt, city, member, "二")
    assert await process_outbox_message(rt, first) == "pending"
    assert await process_outbox_message(rt, second) == "pending"
    timeout, crash = await notes(rt, city)
    assert (timeout.status, timeout.error) == ("retrying", "no answer within 10 s")
    assert crash.status == "retrying" and crash.error == "RuntimeError: bug in the sender"
    [row] = await outbox_rows(rt, city, id=second)
    assert "bug in the sender" in row.last_error and "Traceback" in row.last_error


async def test_the_last_attempt_failing_is_final(rt, scripted):
    city, member, sender = scripted
    sender.outcomes.append(SendResult.failed("still busy"))
    outbox_id = await announce(rt, city, member, "一", attempts=MAX_ATTEMPTS - 1)
    assert await process_outbox_message(rt, outbox_id) == "failed"
    [note] = await notes(rt, city)
    assert note.status == "failed" and note.error == "still busy"
    [listed] = await failed_notifications(rt, city)
    assert listed["final"]


async def test_an_unreachable_member_is_skipped_not_failed(rt, scripted):
    city, member, sender = scripted
    sender.outcomes.append(SendResult.unreachable("no number on this channel"))
    outbox_id = await announce(rt, city, member, "一")
    assert await process_outbox_message(rt, outbox_id) == "done"
    [note] = await notes(rt, city)
    assert (note.status, note.error, note.sender) == ("skipped", "no number on this channel", "scripted_sms")
    assert await failed_notifications(rt, city) == []
    assert await process_outbox_message(rt, await announce(rt, city, member, "一")) == "done"
    assert sender.calls == 1  # a skipped message is not tried again


async def test_the_providers_retry_after_travels_with_the_failure(rt, scripted):
    city, member, sender = scripted
    sender.outcomes.append(SendResult.failed("throttled", retry_after=45))
    plugins = await rt.plugins.for_city(city)
    with use_city(city), pytest.raises(SendFailed) as failed:
        await deliver(rt, city, plugins, {"kind": "announcement", "member_id": member.id, "data": {"text": "一"}})
    assert failed.value.retry_after == 45 and str(failed.value) == "scripted_sms: throttled"
