"""A third-party plugin with a typo: ``guahao_his_adaptors`` matches no hook specification."""

from guahao.plugin_api import PluginMeta, hookimpl

META = PluginMeta(name="his_typo", verbose_name="拼错的 HIS", verbose_name_en="Misspelled HIS", category="his",
                  version="0.1.0")


@hookimpl
def guahao_his_adaptors():
    return []
