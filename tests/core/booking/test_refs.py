"""Booking references people can say and type: ten unambiguous characters in two groups,
found however they are typed; old references still found; a reference already in use fails
the insert cleanly and the same request succeeds when sent again."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from guahao.core.booking import refs
from guahao.core.booking.refs import ALPHABET, is_booking_ref, new_booking_ref, normalise_ref
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingEvent, SlotPool
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .helpers import make_members, reserve


def test_a_reference_is_ten_unambiguous_characters_in_two_groups():
    drawn = [new_booking_ref() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    for ref in drawn[:500]:
        assert len(ref) == 11 and ref[5] == "-" and is_booking_ref(ref)
    used = set("".join(drawn).replace("-", ""))
    assert used == set(ALPHABET)  # every character drawn, none other
    assert not used & set("01ILOU")  # nothing read or written alike (0/O, 1/I/L, U/V)
    assert len(ALPHABET) ** 10 > 2**48  # unguessable together with the member's identity


@pytest.mark.parametrize("typed", ["7k4mq-9xt2b", " 7K4MQ 9XT2B ", "7K4MQ9XT2B", "7k4mq–9xt2b", "7K4-MQ9-XT2B"])
def test_references_are_found_however_they_are_typed(typed):
    assert normalise_ref(typed) == "7K4MQ-9XT2B" and is_booking_ref(normalise_ref(typed))


def test_old_references_still_work_and_look_alikes_do_not():
    assert is_booking_ref(normalise_ref("ghk5qx2m7rb4tzaw3c")) and normalise_ref("GHK5QX2M7RB4TZAW3C") == "GHK5QX2M7RB4TZAW3C"
    for wrong in ("7K4MQ-9XT2", "7K4MO-9XT2B", "7K4MQ-9XT2B1", "", "GH123"):
        assert not is_booking_ref(normalise_ref(wrong)), wrong


async def test_a_reference_already_in_use_fails_cleanly_and_the_next_try_books(rt, city, catalogue, monkeypatch):
    other = await make_city(rt, city.slug + "-o")
    other_cat = await make_catalogue(rt, other, days_ahead=1)
    [theirs] = await make_members(rt, other, 1)
    taken = await reserve(rt, other, theirs, other_cat.periods[other_cat.sessions[0].id][0].id)

    [mine] = await make_members(rt, city, 1)
    period = catalogue.periods[catalogue.sessions[0].id][0]
    monkeypatch.setattr("guahao.core.booking.inventory.new_booking_ref", lambda: taken.id)  # another city's
    with pytest.raises(DomainError) as err:
        await reserve(rt, city, mine, period.id)
    assert (err.value.code, err.value.status) == ("try_again", 409)
    with use_city(city):
        async with rt.db.transaction() as s:
            assert await s.scalar(select(func.count()).select_from(Booking)) == 0
            assert await s.scalar(select(SlotPool.booked).where(SlotPool.period_id == period.id,
                                                                 SlotPool.pool == "public")) == 0
    with use_city(other):
        async with rt.db.transaction() as s:
            assert await s.scalar(select(func.count()).select_from(BookingEvent)
                                  .where(BookingEvent.booking_id == taken.id)) == 2  # created, confirmed: untouched

    monkeypatch.setattr("guahao.core.booking.inventory.new_booking_ref", refs.new_booking_ref)
    again = await reserve(rt, city, mine, period.id)
    assert again.status == "confirmed" and again.id != taken.id
