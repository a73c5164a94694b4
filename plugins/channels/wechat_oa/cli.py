"""``guahao wechat menu push CITY``: push the city's menu (``wechat_oa`` settings) to WeChat
(entry point ``guahao.commands``). ``--print`` shows the body without pushing."""

from __future__ import annotations

import json

from . import menu


def cmd_menu_push(args) -> int:
    from guahao.core.cli.common import CliError, find_city, run

    async def go(rt):
        city = await find_city(rt, args.city)
        plugins = await rt.plugins.for_city(city)
        if menu.NAME not in plugins.names:
            raise CliError(f"{args.city} has not enabled wechat_oa; see `guahao plugin enable`")
        settings, secrets = plugins.settings(menu.NAME), plugins.secrets(menu.NAME)
        base = rt.settings.public_base_url
        if args.print:
            return menu.buttons(settings, menu.site_of(settings, base, city))
        return await menu.push(settings, secrets, city, public_base_url=base, redis=getattr(rt, "redis", None))

    try:
        body = run(go)
    except menu.MenuNotPushed as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(body, ensure_ascii=False, indent=2))
    if not args.print:
        print(f"menu pushed for {args.city} / 菜单已推送")
    return 0


def add_commands(subs) -> None:
    """Add the ``wechat menu push`` command to the ``guahao`` command."""
    from guahao.core.cli.common import add_command

    wechat = subs.add_parser("wechat", help="WeChat Official Account (wechat_oa plugin).",
                             description="WeChat Official Account (wechat_oa plugin).")
    wechat_subs = wechat.add_subparsers(dest="wechat_command", required=True)
    menu_parser = wechat_subs.add_parser("menu", help="The account's menu.", description="The account's menu.")
    menu_subs = menu_parser.add_subparsers(dest="menu_command", required=True)
    p = add_command(menu_subs, "push", "Push the city's menu (wechat_oa settings) to WeChat.", cmd_menu_push,
                    "examples:\n  guahao wechat menu push demo\n  guahao wechat menu push demo --print\n")
    p.add_argument("city", help="city code")
    p.add_argument("--print", action="store_true", help="only print the menu that would be pushed")
