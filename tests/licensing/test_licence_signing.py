"""Licence tokens: signed by the vendor's Ed25519 key (PASETO v4.public), verified offline with
public keys only; tampered, foreign-signed, other-city and malformed licences are refused."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, date, datetime

import pytest

from guahao.licensing.licences.document import LicenceDocument, LicenceRefused, Limits
from guahao.licensing.licences.keys import (
    KeyProblem,
    demo_key_id,
    demo_private_pem,
    new_key_pair,
    public_key,
    signing_key,
    trusted_keys,
    write_key_pair,
)
from guahao.licensing.licences.signing import sign, verify
from guahao.tenants.settings import Settings

VENDOR = new_key_pair()
OTHER = new_key_pair()
DOC = LicenceDocument(
    city="demo", valid_from=date(2026, 1, 1), valid_until=date(2027, 12, 31), operator="示例市卫生健康委员会",
    model="rental", limits=Limits(max_hospitals=20, max_bookings_per_month=50_000, channels=("web", "app")),
    grace_days=30, issued_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC), licence_id="lic-test-1",
)


def _trusted(*pairs) -> dict:
    keys = [public_key(p.public_paserk) for p in pairs]
    return {k.to_paserk_id(): k for k in keys}


def _parts(token: str) -> list[str]:
    return token.split(".")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_signed_licence_verifies_with_the_public_key_alone():
    token = sign(DOC, VENDOR.private_pem)
    assert token.startswith("v4.public.")
    got = verify(token, _trusted(VENDOR), city="demo")
    assert got.document == DOC and got.key_id == VENDOR.key_id
    # The public key given as PEM works the same as its PASERK.
    pem = public_key(VENDOR.public_pem)
    assert verify(token, {pem.to_paserk_id(): pem}).document == DOC


def test_signing_fills_in_a_licence_id_and_the_issue_time():
    bare = dataclasses.replace(DOC, licence_id="", issued_at=None)
    got = verify(sign(bare, VENDOR.private_pem), _trusted(VENDOR)).document
    assert got.licence_id.startswith("lic-") and got.issued_at is not None
    assert got != verify(sign(bare, VENDOR.private_pem), _trusted(VENDOR)).document  # a new id each time


def test_a_changed_claim_is_refused_as_tampered():
    token = sign(DOC, VENDOR.private_pem)
    head, version, body, footer = _parts(token)[0], _parts(token)[1], _parts(token)[2], _parts(token)[3]
    raw = _b64d(body)
    claims, sig = raw[:-64], raw[-64:]
    forged = claims.replace(b'"valid_until": "2027-12-31"', b'"valid_until": "2099-12-31"')
    assert forged != claims
    tampered = ".".join([head, version, _b64e(forged + sig), footer])
    with pytest.raises(LicenceRefused) as refused:
        verify(tampered, _trusted(VENDOR), city="demo")
    assert refused.value.code == "licence_tampered" and "签名" in refused.value.message
    assert "altered" in refused.value.details["message_en"]


def test_a_changed_key_id_in_the_footer_is_refused_as_tampered():
    token = sign(DOC, OTHER.private_pem)  # signed by OTHER, footer says so
    parts = _parts(token)
    parts[3] = _b64e(json.dumps({"kid": VENDOR.key_id}).encode())  # claims the trusted key signed it
    with pytest.raises(LicenceRefused) as refused:
        verify(".".join(parts), _trusted(VENDOR), city="demo")
    assert refused.value.code == "licence_tampered"


def test_a_licence_signed_by_another_key_is_refused_as_foreign():
    token = sign(DOC, OTHER.private_pem)
    with pytest.raises(LicenceRefused) as refused:
        verify(token, _trusted(VENDOR), city="demo")
    assert refused.value.code == "licence_foreign_key" and OTHER.key_id in refused.value.line
    # Without a key id in the footer, no trusted key verifies it: refused all the same.
    bare = ".".join(_parts(token)[:3])
    with pytest.raises(LicenceRefused) as refused:
        verify(bare, _trusted(VENDOR), city="demo")
    assert refused.value.code == "licence_tampered"
    with pytest.raises(LicenceRefused) as refused:
        verify(token, {}, city="demo")
    assert refused.value.code == "licence_foreign_key"


def test_a_licence_for_another_city_is_refused():
    token = sign(DOC, VENDOR.private_pem)
    with pytest.raises(LicenceRefused) as refused:
        verify(token, _trusted(VENDOR), city="beijing")
    assert refused.value.code == "licence_wrong_city" and "demo" in refused.value.message


def test_an_expired_licence_still_verifies_its_dates_are_for_the_state_to_judge():
    old = dataclasses.replace(DOC, valid_from=date(2020, 1, 1), valid_until=date(2021, 1, 1))
    assert verify(sign(old, VENDOR.private_pem), _trusted(VENDOR)).document.valid_until == date(2021, 1, 1)


@pytest.mark.parametrize("token", ["", "hello", "v2.public.AAAA", "v4.local.AAAA", "v4.public.", "v4.public.!!!"])
def test_what_is_not_a_licence_token_is_refused_as_malformed(token):
    with pytest.raises(LicenceRefused) as refused:
        verify(token, _trusted(VENDOR))
    assert refused.value.code in {"licence_malformed", "licence_tampered"}


def test_a_token_the_key_signed_for_another_purpose_is_not_a_licence():
    import pyseto

    other_use = pyseto.encode(signing_key(VENDOR.private_pem), DOC.to_claims(), footer={"kid": VENDOR.key_id},
                              serializer=json).decode()  # no implicit assertion of licences
    with pytest.raises(LicenceRefused) as refused:
        verify(other_use, _trusted(VENDOR))
    assert refused.value.code == "licence_tampered"


def test_documents_that_do_not_hold_together_are_not_signed():
    for bad in (dataclasses.replace(DOC, valid_until=date(2025, 1, 1)), dataclasses.replace(DOC, model="free"),
                dataclasses.replace(DOC, city="Not A Slug"), dataclasses.replace(DOC, grace_days=-1)):
        with pytest.raises(LicenceRefused):
            sign(bad, VENDOR.private_pem)


def test_signing_needs_the_private_key():
    with pytest.raises(KeyProblem):
        sign(DOC, VENDOR.public_pem)
    with pytest.raises(KeyProblem):
        signing_key("not a key")


def test_the_demo_key_is_trusted_by_the_embedded_demo_only():
    demo_token = sign(DOC, demo_private_pem())
    embedded = Settings(database_url="sqlite+aiosqlite:///x.sqlite3")
    production = Settings(database_url="sqlite+aiosqlite:///x.sqlite3", environment="production",
                          licence_public_keys=(VENDOR.public_paserk,))
    assert not embedded.production and production.production
    assert verify(demo_token, trusted_keys(embedded), city="demo").key_id == demo_key_id()
    with pytest.raises(LicenceRefused) as refused:
        verify(demo_token, trusted_keys(production), city="demo")
    assert refused.value.code == "licence_foreign_key"
    assert verify(sign(DOC, VENDOR.private_pem), trusted_keys(production)).key_id == VENDOR.key_id


def test_configured_keys_may_be_pem_or_paserk_and_a_broken_one_is_left_out():
    settings = Settings(database_url="sqlite+aiosqlite:///x.sqlite3", environment="production",
                        licence_public_keys=(VENDOR.public_pem, OTHER.public_paserk, "k4.public.broken"))
    assert set(trusted_keys(settings)) == {VENDOR.key_id, OTHER.key_id}


def test_keygen_writes_a_pair_and_never_overwrites(tmp_path):
    private, public, pair = write_key_pair(tmp_path / "keys")
    assert private.stat().st_mode & 0o077 == 0  # the private key is its owner's alone
    assert public_key(public.read_text()).to_paserk_id() == pair.key_id
    token = sign(DOC, private.read_text())
    assert verify(token, _trusted(pair)).key_id == pair.key_id
    before = private.read_text()
    with pytest.raises(FileExistsError):
        write_key_pair(tmp_path / "keys")
    assert private.read_text() == before
