"""The WeChat access token helpers, shared with other WeChat plugins through the plugin API
(``plugin_api.wechat``, kept in ``core.plugins.wechat``)."""

from guahao.plugin_api import wechat

RETRYABLE = wechat.RETRYABLE
TOKEN_ERRORS = wechat.TOKEN_ERRORS
WeChatError = wechat.WeChatError
access_token = wechat.access_token
answer = wechat.answer
forget = wechat.forget
redis_key = wechat.redis_key
