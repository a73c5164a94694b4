"""Handlers: registration, login (access and refresh tokens), refresh, revoke and the member's
own profile."""

from __future__ import annotations

from guahao.core.members import refresh, service, tokens
from guahao.core.members.throttle import LoginThrottle, for_runtime
from guahao.core.ratelimit import client_ip

from .operations import Call


async def register_member(call: Call) -> dict:
    b = call.body
    async with call.rt.db.transaction() as s:
        member = await service.register(s, name=b.name, id_number=b.id_number, phone=b.phone, password=b.password,
                                        ip=client_ip(call.request))
        return service.member_view(member)


async def issue_token(call: Call, *, throttle: LoginThrottle) -> dict:
    """A bearer token; failed attempts count in Redis when there is one (shared with the web
    site and every process), else in ``throttle``."""
    b = call.body
    ip = call.request.client.host if call.request.client else ""
    member = await service.login(
        call.rt.db, login=b.login, password=b.password, throttle=for_runtime(call.rt, throttle), ip=ip
    )
    async with call.rt.db.transaction() as s:
        refresh_token, refresh_ttl = await refresh.start(s, member)
    return _tokens(call, member, refresh_token, refresh_ttl)


def _tokens(call: Call, member, refresh_token: str, refresh_ttl: int) -> dict:
    token, ttl = tokens.issue(call.rt.settings, member_id=member.id, city_id=call.city.id,
                              generation=member.session_generation)
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl, "refresh_token": refresh_token,
            "refresh_expires_in": refresh_ttl}


async def refresh_token(call: Call) -> dict:
    """A new access token and the family's next refresh token for a refresh token (spent here)."""
    done = await refresh.rotate(call.rt.db, call.body.refresh_token)
    return _tokens(call, done.member, done.token, done.expires_in)


async def revoke_token(call: Call) -> dict:
    """RFC 7009: the refresh token's family ends; an unknown token is answered the same."""
    async with call.rt.db.transaction() as s:
        await refresh.revoke(s, call.body.token)
    return {"revoked": True}


async def me(call: Call) -> dict:
    from guahao.core.booking.service import credit

    async with call.rt.db.transaction() as s:
        member = await service.get_member(s, call.member_id)
    if member is None:  # a token outliving its member
        raise tokens.unauthorized("unknown_member", "会员不存在，请重新登录")
    return {**service.member_view(member), "credit": await credit(call.rt, member_id=member.id)}
