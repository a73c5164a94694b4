"""Registration and login against the database: encryption at rest, lookups, rehash."""

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from guahao.core.errors import DomainError
from guahao.core.members import passwords, service
from guahao.core.members.ids import check_digit
from guahao.core.members.throttle import MemoryLoginThrottle
from guahao.core.models import Member
from guahao.tenants.context import use_city
from guahao.tenants.crypto import cipher

ID = "11010519491231002X"


async def register(rt, city, **kw):
    args = {"name": "张伟", "id_number": ID, "phone": "13800138000", "password": "secret123"} | kw
    with use_city(city):
        async with rt.db.transaction() as s:
            return await service.register(s, **args)


async def login(rt, city, login, password="secret123", throttle=None):
    with use_city(city):
        return await service.login(rt.db, login=login, password=password, throttle=throttle)


async def test_register_stores_the_id_number_encrypted(rt, city):
    m = await register(rt, city, id_number="11010519491231002x", phone="+86 138-0013-8000")
    assert (m.name, m.phone, m.sex, m.id_number_masked) == ("张伟", "13800138000", "F", "1101**********002X")
    assert service.member_view(m) == {"id": m.id, "name": "张伟", "id_number_masked": "1101**********002X",
                                      "phone": "13800138000"}
    with use_city(city):
        async with rt.db.transaction() as s:
            row = (await s.execute(text("SELECT * FROM members WHERE id = :id"), {"id": m.id})).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert ID not in stored and ID.lower() not in stored and "19491231002" not in stored
    assert cipher().decrypt(row["id_number_encrypted"]) == ID
    assert row["id_number_hash"] == cipher().lookup_hash(ID)
    assert row["password_hash"].startswith("$argon2id$") and "secret123" not in stored


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("name", "张", "invalid_name"),
        ("name", "张" * 31, "invalid_name"),
        ("name", "Zhang3", "invalid_name"),
        ("name", "·买买提", "invalid_name"),
        ("name", "张\x00伟", "invalid_name"),
        ("id_number", "110105194912310021", "invalid_id_number"),
        ("phone", "12800138000", "invalid_phone"),
        ("phone", "1380013800", "invalid_phone"),
        ("phone", "138001380001", "invalid_phone"),
        ("password", "short1", "weak_password"),
        ("password", "onlyletters", "weak_password"),
        ("password", "1234567890", "weak_password"),
    ],
)
async def test_invalid_registration(rt, city, field, value, code):
    with pytest.raises(DomainError) as exc:
        await register(rt, city, **{field: value})
    assert exc.value.code == code and exc.value.status == 422
    assert exc.value.details["field"] == field


@pytest.mark.parametrize("name", ["阿依古丽·买买提", "阿依古丽 · 买买提", "欧阳娜娜", "王二", "Lisa Wang"])
async def test_names_that_are_accepted(name):
    assert service.validate_name(name)


async def test_same_id_number_or_phone_cannot_register_twice(rt, city):
    await register(rt, city)
    for kw, field in (
        ({"phone": "13900139000"}, "id_number"),
        ({"id_number": "11010519900101001" + check_digit("11010519900101001")}, "phone"),
    ):
        with pytest.raises(DomainError) as exc:
            await register(rt, city, **kw)
        assert exc.value.code == "member_exists" and exc.value.status == 409
        assert exc.value.details["field"] == field


async def test_same_person_may_register_in_another_city(rt, city):
    from tests.factories import make_city

    other = await make_city(rt, city.slug + "-m")
    a = await register(rt, city)
    b = await register(rt, other)
    assert a.id != b.id


async def test_login_by_phone_and_by_id_number(rt, city):
    m = await register(rt, city)
    assert (await login(rt, city, "13800138000")).id == m.id
    assert (await login(rt, city, " 138 0013 8000 ")).id == m.id
    assert (await login(rt, city, ID)).id == m.id
    assert (await login(rt, city, ID.lower())).id == m.id


@pytest.mark.parametrize("who, password", [("13800138000", "wrong1234"), ("13900000000", "secret123"),
                                          ("not-a-login", "secret123"), ("", "secret123")])
async def test_wrong_login_or_password(rt, city, who, password):
    await register(rt, city)
    with pytest.raises(DomainError) as exc:
        await login(rt, city, who, password)
    assert exc.value.code == "invalid_credentials" and exc.value.status == 401


async def test_login_does_not_cross_cities(rt, city):
    from tests.factories import make_city

    await register(rt, city)
    other = await make_city(rt, city.slug + "-l")
    with pytest.raises(DomainError):
        await login(rt, other, "13800138000")


async def test_throttle_locks_even_the_right_password(rt, city):
    await register(rt, city)
    throttle = MemoryLoginThrottle(max_failures=2)
    for _ in range(2):
        with pytest.raises(DomainError):
            await login(rt, city, "13800138000", "wrong1234", throttle)
    with pytest.raises(DomainError) as exc:
        await login(rt, city, "13800138000", "secret123", throttle)
    assert exc.value.code == "too_many_attempts" and exc.value.status == 429


async def test_authenticate_in_a_session_and_rehash_on_new_parameters(rt, city, monkeypatch):
    m = await register(rt, city)
    stronger = PasswordHasher(time_cost=passwords._hasher.time_cost + 1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", stronger)
    with use_city(city):
        async with rt.db.transaction() as s:
            got = await service.authenticate(s, login=ID, password="secret123")
            assert got.id == m.id
    with use_city(city):
        async with rt.db.transaction() as s:
            new_hash = await s.scalar(select(Member.password_hash).where(Member.id == m.id))
    assert new_hash != m.password_hash and f"t={stronger.time_cost}" in new_hash
    assert not stronger.check_needs_rehash(new_hash)
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    assert (await login(rt, city, "13800138000")).id == m.id  # rehashed back through login()
    with use_city(city):
        async with rt.db.transaction() as s:
            back = await s.scalar(select(Member.password_hash).where(Member.id == m.id))
    assert not PasswordHasher().check_needs_rehash(back)


async def test_simultaneous_registrations_of_one_person_make_one_member(rt, city):
    import asyncio

    results = await asyncio.gather(*(register(rt, city, phone=f"1390000000{i}") for i in range(4)),
                                   return_exceptions=True)
    members = [r for r in results if isinstance(r, Member)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(members) == 1 and len(refused) == 3
    assert {e.code for e in refused} == {"member_exists"} and {e.status for e in refused} == {409}
