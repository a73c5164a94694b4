"""Keys: a production server refuses to start without real ones, a cookie signed with the public
development key is worthless, and keys rotate (sign with the new, verify with the old too)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from guahao.core.cli import main
from guahao.core.errors import DomainError, Unauthorized
from guahao.core.members import service, tokens
from guahao.core.runtime import Runtime
from guahao.core.staff.vendor import create_vendor
from guahao.core.web.signing import sign, unsign
from guahao.operator_console.kit.session import COOKIE, PURPOSE
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.crypto import DataCipher, cipher, configure_cipher
from guahao.tenants.settings import DEV_SECRET, InsecureKeys, Settings

OLD = "old-secret-" + "o" * 40
NEW = "new-secret-" + "n" * 40
DATA_OLD = "old-data-key-" + "d" * 40
DATA_NEW = "new-data-key-" + "e" * 40
PG = "postgresql://guahao@127.0.0.1:1/nothing"
ID = "11010519491231002X"


# --- the start-up rule ----------------------------------------------------------------------


@pytest.mark.parametrize("env", [
    {"DATABASE_URL": PG},
    {"REDIS_URL": "redis://127.0.0.1:6379/0"},
    {"GUAHAO_ENV": "production"},
    {"DATABASE_URL": PG, "GUAHAO_SECRET_KEY": "too-short"},
    {"DATABASE_URL": PG, "GUAHAO_SECRET_KEY": DEV_SECRET},
    {"DATABASE_URL": PG, "GUAHAO_SECRET_KEY": NEW, "GUAHAO_SECRET_KEYS_OLD": DEV_SECRET, "GUAHAO_DATA_KEY": DATA_NEW},
    {"DATABASE_URL": PG, "GUAHAO_SECRET_KEY": NEW, "GUAHAO_DATA_KEY": "short"},
])
def test_production_without_real_keys_refuses_to_start(env):
    settings = Settings.from_env(env)
    problem = settings.key_problem()
    assert problem and "\n" not in problem and "GUAHAO_" in problem and "secrets.token_urlsafe" in problem
    with pytest.raises(InsecureKeys) as exc:
        Runtime(settings)
    assert str(exc.value) == problem


def test_rotation_without_a_data_key_of_its_own_is_refused_even_embedded():
    settings = Settings.from_env({"GUAHAO_SECRET_KEY": NEW, "GUAHAO_SECRET_KEYS_OLD": OLD})
    assert "GUAHAO_DATA_KEY" in settings.key_problem()


@pytest.mark.parametrize("env", [
    {},  # the embedded demo: SQLite, no Redis
    {"GUAHAO_SECRET_KEY": "short"},
    {"DATABASE_URL": PG, "GUAHAO_SECRET_KEY": NEW},  # the secret key doubles as the data key
    {"DATABASE_URL": PG, "REDIS_URL": "redis://r:6379/0", "GUAHAO_SECRET_KEY": NEW, "GUAHAO_DATA_KEY": DATA_NEW,
     "GUAHAO_SECRET_KEYS_OLD": f"{OLD}, ", "GUAHAO_DATA_KEYS_OLD": DEV_SECRET},  # an old data key only decrypts
])
def test_keys_that_may_serve(env):
    assert Settings.from_env(env).key_problem() is None


def test_the_environment_names_signing_and_verifying_keys():
    s = Settings.from_env({"GUAHAO_SECRET_KEY": NEW, "GUAHAO_SECRET_KEYS_OLD": f"{OLD},{OLD}2 ,",
                           "GUAHAO_DATA_KEY": DATA_NEW, "GUAHAO_DATA_KEYS_OLD": DATA_OLD})
    assert s.secret_keys == (NEW, OLD, OLD + "2") and s.data_keys == (DATA_NEW, DATA_OLD)
    assert Settings(secret_key=NEW).data_keys == (NEW,)
    assert NEW not in repr(s) and DATA_NEW not in repr(s) and OLD not in repr(s)


def test_cli_serve_and_worker_refuse_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    for name in ("GUAHAO_SECRET_KEY", "GUAHAO_DATA_KEY", "GUAHAO_SECRET_KEYS_OLD", "GUAHAO_DATA_KEYS_OLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("guahao.core.cli._serve", lambda *a, **kw: pytest.fail("served without keys"))
    for command in (["serve"], ["worker"], ["demo", "--no-serve"], ["city", "list"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: GUAHAO_SECRET_KEY is unset") and err.count("\n") == 1, command


def test_app_factory_refuses_with_one_line(monkeypatch):
    from guahao.core.app import create_app

    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.delenv("GUAHAO_SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as exc:
        create_app()
    assert str(exc.value.code).startswith("error: GUAHAO_SECRET_KEY is unset")


# --- a forged cookie ------------------------------------------------------------------------


def _vendor_cookie(secret: str, vendor_id: int) -> str:
    now = int(utcnow().timestamp())
    return sign(secret, {"t": "csrf-token", "k": "vendor", "a": vendor_id, "c": None, "i": now, "s": now}, PURPOSE)


async def _vendor_page(client, cookie: str):
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    return await client.get("/console/vendor/")


async def test_a_cookie_signed_with_the_development_key_is_refused(rt, client):
    assert rt.settings.secret_key != DEV_SECRET
    vendor = await create_vendor(rt.db, username=f"v{uuid.uuid4().hex[:8]}", password="vendor-pass-1")
    forged = await _vendor_page(client, _vendor_cookie(DEV_SECRET, vendor.id))
    assert forged.status_code == 303 and "/login" in forged.headers["location"]
    genuine = await _vendor_page(client, _vendor_cookie(rt.settings.secret_key, vendor.id))
    assert genuine.status_code == 200


# --- rotation -------------------------------------------------------------------------------


def test_member_token_of_the_old_key_still_verifies_and_new_ones_use_the_new_key():
    before = Settings(secret_key=OLD)
    after = Settings(secret_key=NEW, secret_keys_old=(OLD,), data_key=OLD)
    old_token, _ = tokens.issue(before, member_id=7, city_id=3)
    assert tokens.verify(after, old_token, city_id=3) == 7
    new_token, _ = tokens.issue(after, member_id=8, city_id=3)
    assert tokens.verify(Settings(secret_key=NEW), new_token, city_id=3) == 8
    with pytest.raises(Unauthorized) as exc:
        tokens.verify(before, new_token, city_id=3)
    assert exc.value.details == {"reason": "invalid"}
    with pytest.raises(Unauthorized):  # the old key dropped: its tokens are done
        tokens.verify(Settings(secret_key=NEW), old_token, city_id=3)


def test_signed_values_verify_with_any_listed_key():
    value = sign(OLD, {"m": 1}, "p")
    assert unsign((NEW, OLD), value, "p") == {"m": 1}
    assert unsign(NEW, value, "p") is None and unsign((NEW,), value, "p") is None
    assert unsign((NEW, OLD), value, "other-purpose") is None


async def test_console_session_survives_rotation_and_is_resigned_with_the_new_key(rt, client, monkeypatch):
    vendor = await create_vendor(rt.db, username=f"v{uuid.uuid4().hex[:8]}", password="vendor-pass-1")
    cookie = _vendor_cookie(rt.settings.secret_key, vendor.id)
    rotated = dataclasses.replace(rt.settings, secret_key=NEW, secret_keys_old=(rt.settings.secret_key,),
                                  data_key=rt.settings.data_keys[0])
    monkeypatch.setattr(rt, "settings", rotated)
    r = await _vendor_page(client, cookie)
    assert r.status_code == 200
    fresh = r.cookies[COOKIE]
    assert unsign(NEW, fresh, PURPOSE)["a"] == vendor.id and unsign(rotated.secret_keys[1], fresh, PURPOSE) is None
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rotated, secret_keys_old=()))
    r = await _vendor_page(client, cookie)
    assert r.status_code == 303


def test_data_encrypted_under_the_old_key_still_decrypts():
    sealed = DataCipher(DATA_OLD).encrypt(ID)
    rotated = DataCipher([DATA_NEW, DATA_OLD])
    assert rotated.decrypt(sealed) == ID
    assert DataCipher(DATA_NEW).decrypt(rotated.encrypt(ID)) == ID  # new values use the first key
    with pytest.raises(ValueError):
        DataCipher(DATA_NEW).decrypt(sealed)
    assert rotated.lookup_hashes(ID) == [DataCipher(DATA_NEW).lookup_hash(ID), DataCipher(DATA_OLD).lookup_hash(ID)]


@pytest.fixture
def restore_cipher(rt):
    yield
    configure_cipher(rt.settings.data_keys)


async def test_members_are_found_by_id_number_after_the_data_key_rotates(rt, city, restore_cipher):
    with use_city(city):
        async with rt.db.transaction() as s:
            member = await service.register(s, name="张伟", id_number=ID, phone="13800138000", password="secret123")
        configure_cipher([DATA_NEW, *rt.settings.data_keys])
        assert (await service.login(rt.db, login=ID, password="secret123")).id == member.id
        async with rt.db.transaction() as s:
            with pytest.raises(DomainError) as exc:  # still one person: a second registration is refused
                await service.register(s, name="张伟", id_number=ID, phone="13900139000", password="secret123")
        assert exc.value.code == "member_exists"
        assert cipher().decrypt(member.id_number_encrypted) == ID
