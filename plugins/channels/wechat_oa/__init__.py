"""WeChat Official Account (微信公众号, R5.4): the account's server, its menu, and the patient
site opened inside WeChat.

- ``/c/{city}/plugins/wechat_oa/callback`` (:mod:`.callback`, :mod:`.protocol`): WeChat's URL
  verification and followers' messages and events, plain or safe (AES) mode, each acted on
  once; keyword replies and menu clicks (:mod:`.replies`): 预约/挂号, 我的预约, 取消,
  帮助/就医指南, and the city's own keywords; following is welcomed, unfollowing unbinds the
  member's openid (their notices go by SMS again).
- The menu (预约挂号 / 我的预约 / 取消预约 / 就医指南, the ``menu`` setting) pushed with
  ``guahao wechat menu push CITY`` (:mod:`.menu`, :mod:`.cli`) through the app's shared access
  token (``plugin_api.wechat``, as the template sender).
- Web OAuth (:mod:`.oauth`): the patient site opened inside WeChat signs in with
  ``snsapi_base``; after one real-name log-in the openid is bound to the member, and the
  ``wechat_template`` sender then reaches them (SMS for members without one).

Settings: ``app_id``, ``site_url``, ``oauth``, ``menu``, ``welcome``, ``guide``, ``keywords``,
``tolerance_seconds``, ``endpoint``, ``oauth_endpoint``, ``timeout``. Secrets: ``token``,
``app_secret``, ``encoding_aes_key``. The guide is ``docs/channel-wechat.md``.
"""

from __future__ import annotations

from starlette.routing import Route

from guahao.plugin_api import hookimpl

from .callback import NAME, callback
from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import WeChatPush
from .oauth import oauth_return, site_request

__all__ = ["NAME", "WeChatPush"]


@hookimpl
def guahao_routes():
    return [Route("/callback", callback, methods=["GET", "POST"]), Route("/oauth", oauth_return, methods=["GET"])]


@hookimpl
def guahao_site_request(city, request, member_id, rt):
    return site_request(city, request, member_id, rt)
