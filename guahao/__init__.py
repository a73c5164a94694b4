"""guahao (预约挂号公共服务平台): the platform as one installed package.

The repository keeps its layers as top-level folders (``core/``, ``tenants/``, ``plugins/``,
``operator_console/``, ``licensing/``); this package holds them under one name, so an
installation adds ``guahao`` and nothing else to the environment. Code imports them as
``guahao.core``, ``guahao.tenants`` … and plugins import the public API from
``guahao.plugin_api``.
"""
