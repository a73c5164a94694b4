"""Fixtures of the back-office tests: a staff actor and members registered for real."""

from __future__ import annotations

import itertools
import secrets

import pytest

from guahao.core.audit import Actor
from guahao.core.members.ids import check_digit
from guahao.core.members.service import register
from guahao.tenants.context import use_city

_seq = itertools.count(secrets.randbelow(500))


def id_number(born: str = "19900307") -> str:
    """A valid ID number of Beijing 东城区 with a fresh sequence."""
    body = f"110101{born}{next(_seq) % 1000:03d}"
    return body + check_digit(body)


async def register_member(rt, city, *, name: str = "张三", phone: str | None = None) -> tuple[int, str, str]:
    """A member registered through the members service: ``(id, ID number, phone)``."""
    number = id_number()
    phone = phone or f"139{secrets.randbelow(10**8):08d}"
    with use_city(city):
        async with rt.db.transaction() as s:
            m = await register(s, name=name, id_number=number, phone=phone, password="secret123")
            return m.id, number, phone


@pytest.fixture
def scheduler() -> Actor:
    return Actor("staff", 7, name="排班员小李", role="hospital_scheduler")


@pytest.fixture
def agent() -> Actor:
    return Actor("staff", 21, name="话务员小王", role="agent")
