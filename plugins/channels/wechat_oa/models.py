"""Pushes of WeChat to the account's server, each kept once per city and message: a text's
``MsgId``, or for an event (which has none) its sender, time and kind, as WeChat advises. A
unique constraint makes a retry of the same push (WeChat retries three times when an answer
takes over five seconds) one row, acted on once; the retry gets the first answer back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class WeChatPush(TenantModel, table=True):
    """One message or event a follower sent, and the answer it got."""

    __tablename__ = "wechat_oa_pushes"
    __table_args__ = (UniqueConstraint("city_id", "dedup_key", name="uq_wechat_oa_push"),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=160)  # "msg:<MsgId>" or "event:<openid>:<CreateTime>:<Event>:<EventKey>"
    openid: str = Field(max_length=64)
    kind: str = Field(max_length=40)  # text, image…, event:subscribe, event:CLICK…
    received_at: datetime = Field(default_factory=utcnow)
    outcome: str = Field(default="", max_length=40)  # what the answer was: keyword, welcome, unbound…
    reply: str = Field(default="", max_length=2000)  # the text answered ("" for no answer)
