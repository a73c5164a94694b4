"""A plugin module that forgot to declare itself (no ``META``)."""

from guahao.plugin_api import hookimpl


@hookimpl
def guahao_routes():
    return []
