"""With real Redis and the arq worker: every notification kind reaches the fake SMS gateway,
and stopping a worker mid-run (or losing a job with it) loses no message.

Deselected without ``REDIS_URL`` (the ``redis_rt`` fixture)."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from arq.worker import create_worker
from sqlalchemy import update

from guahao.core.booking import service, waitlist
from guahao.core.jobs import outbox_job_id, queue_name, relay_once, worker_settings
from guahao.core.models import OutboxMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.plugins.probes import emit_row, make_member, outbox_rows, set_aside_other_cities
from tests.factories import make_catalogue

from .sms_city import enable_aliyun, notes

ANCIENT = datetime(1970, 1, 2, tzinfo=UTC)
KINDS = ("booking_confirmed", "reminder_day_before", "reminder_30min", "booking_cancelled", "waitlist_offer", "survey_invitation")


async def burst(redis_rt, *, max_jobs: int | None = None) -> int:
    """One worker run: takes what is queued (at most ``max_jobs``) and stops."""
    worker = create_worker(
        worker_settings(redis_rt.settings, runtime=redis_rt),
        burst=True, handle_signals=False, poll_delay=0.05, cron_jobs=[], max_burst_jobs=max_jobs or -1,
    )
    try:
        await worker.async_run()
        return worker.jobs_complete
    finally:
        await worker.close()


async def every_kind(rt, city):
    """Notify rows of every kind, due now: a booking, its cancellation freeing a unit offered
    to the waitlist, reminders and a survey invitation for another booking."""
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=1)
    first, second, third = [await make_member(rt, city, name=n) for n in ("甲", "乙", "丙")]
    full, other = cat.sessions
    with use_city(city):
        booked, _, _ = await service.book(rt, member_id=first.id, period_id=cat.periods[full.id][0].id, channel="web")
        kept, _, _ = await service.book(rt, member_id=third.id, period_id=cat.periods[other.id][0].id, channel="web")
        async with rt.db.transaction() as s:
            await waitlist.join_waitlist(s, member_id=second.id, session_id=full.id)
        await service.cancel_booking(rt, member_id=first.id, booking_id=booked["id"], reason="行程有变")
    for kind in ("reminder_day_before", "reminder_30min", "survey_invitation"):
        await emit_row(rt, city, "notify", {"kind": kind, "member_id": third.id, "booking_id": kept["id"]})
    return first, second, third


async def make_first_in_line(rt, city, ids: list[int]) -> None:
    """Backdate rows so a relay pass limited to their number hands over exactly them (the
    relay serves every city, and other tests leave due rows behind)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            for n, outbox_id in enumerate(ids):
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == outbox_id)
                    .values(due_at=ANCIENT + timedelta(seconds=n))
                )


async def test_the_worker_delivers_every_kind_and_a_stopped_or_lost_run_loses_nothing(rt, redis_rt, city, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    await set_aside_other_cities(rt, city)
    await every_kind(rt, city)
    due = [r.id for r in await outbox_rows(rt, city) if r.status == "pending" and r.due_at <= utcnow()]
    await make_first_in_line(rt, city, due)
    assert await relay_once(redis_rt, limit=len(due)) == len(due)

    # A worker runs two jobs and stops; then one queued job is lost with Redis state.
    assert await burst(redis_rt, max_jobs=2) == 2
    queued = [r for r in await outbox_rows(rt, city, topic="notify") if r.status == "queued"]
    lost = queued[-1]
    await redis_rt.redis.delete(f"arq:job:{outbox_job_id(redis_rt.settings, lost.id)}")
    await redis_rt.redis.zrem(queue_name(redis_rt.settings), outbox_job_id(redis_rt.settings, lost.id))

    # A new worker takes the rest; the lost row stays queued until the relay sees it overdue.
    assert await burst(redis_rt) == len(due) - 3
    assert [r.status for r in await outbox_rows(rt, city, id=lost.id)] == ["queued"]
    await make_first_in_line(rt, city, [lost.id])  # queued long ago: STUCK_AFTER has passed
    assert await relay_once(redis_rt, limit=1) == 1
    assert await burst(redis_rt) == 1

    sent = await notes(rt, city)
    assert sorted(n.kind for n in sent) == sorted(KINDS) and {n.status for n in sent} == {"sent"}
    out_ids = Counter(m["out_id"] for m in aliyun_sms.messages(key_id))
    assert out_ids == Counter({str(n.id): 1 for n in sent})  # each exactly once
    assert {r.status for r in await outbox_rows(rt, city) if r.id in due} == {"done"}
