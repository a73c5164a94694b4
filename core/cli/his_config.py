"""``guahao his set``: pick a hospital's HIS adapter and give its own settings (R7).

The adapter's per-hospital settings (``PluginMeta.hospital_settings``: for ``hl7v2`` the HIS's
MLLP ``host`` and ``port`` …) are checked against its declaration before anything is stored,
secrets are stored encrypted, the change is audited, and the hospital's ``his_adapter`` names
the adapter. The adapter is enabled for the city when it was not yet (with the city's values
it has). Adds ``set`` to the ``his`` group shared with ``core.cli.his``.
"""

from __future__ import annotations

import getpass
import json

from .common import CliError, add_command, find_city, json_or_text, pairs, run
from .his import his_commands

EXAMPLES = """\
examples:
  guahao his set demo H1 hl7v2 --set host=10.1.2.3 --set port=2575
  guahao his set demo H1 hl7v2 --set patient_identity=full_id --set listen_port=2600
  guahao his set demo H2 demo_his --set fail_pushes=false --unset timeout

--set values are JSON when they parse as JSON (numbers, true/false), else text; --secret values
are stored encrypted. `guahao plugin show ADAPTER` lists the per-hospital settings.
"""


async def _set(rt, args) -> list[str]:
    from sqlalchemy import select

    from guahao.core import audit
    from guahao.core.errors import DomainError
    from guahao.core.models import Hospital
    from guahao.core.plugins import hospital as hospital_config
    from guahao.core.plugins.config import check
    from guahao.core.plugins.settings import SettingsInvalid, validate
    from guahao.tenants.context import use_city
    from guahao.tenants.crypto import open_secrets
    from guahao.tenants.service import configure_plugin, enabled_plugins, plugin_config

    city = await find_city(rt, args.city)
    host = rt.plugins
    meta = host.meta(args.adapter)
    if meta is None or meta.category != "his":
        his = sorted(n for n in host.names() if (m := host.meta(n)) is not None and m.category == "his")
        raise CliError(f"{args.adapter!r} is not an installed HIS adapter (installed: {', '.join(his) or 'none'})")
    if meta.hospital_settings is None and (args.set or args.secret or args.unset):
        raise CliError(f"{args.adapter} has no per-hospital settings; set the city's with `guahao city plugin`")
    actor = audit.Actor("system", name=f"guahao his set ({getpass.getuser()})", role="cli")
    lines = []
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = await s.scalar(select(Hospital).where(Hospital.code == args.hospital))
            if hospital is None:
                raise CliError(f"no hospital {args.hospital!r} in {city.slug}")
            row = (await hospital_config.hospital_rows(s, hospital.id)).get(args.adapter)
    values = {k: v for k, v in dict(row.settings if row else {}).items() if k not in args.unset}
    values.update({k: json_or_text(v) for k, v in pairs(args.set, "setting").items()})
    secrets = pairs(args.secret, "secret")
    if meta.hospital_settings is not None:  # checked before anything is stored, the city's plugins included
        try:
            validate(args.adapter, meta.hospital_settings, values, secrets,
                     stored_secrets=open_secrets(row.secrets_encrypted if row else ""), enabled=False)
        except SettingsInvalid as exc:
            raise CliError(f"{exc.message}\n{exc.english()}") from None
    if args.adapter not in await enabled_plugins(rt.db, city):
        stored = await plugin_config(rt.db, city, args.adapter) or {"settings": {}, "secrets": {}}
        try:
            settings, _ = check(host, args.adapter, dict(stored["settings"]), {}, stored_secrets=stored["secrets"],
                                enabled=True)
        except SettingsInvalid as exc:
            raise CliError(f"{args.adapter} cannot be enabled for {city.slug} with the city's settings: "
                           f"{exc.message}\n{exc.english()}\nset them with `guahao city plugin {city.slug} "
                           f"{args.adapter} --set …`") from None
        await configure_plugin(rt.db, city, args.adapter, enabled=True, settings=settings)
        lines.append(f"{args.adapter} enabled for {city.slug}")
        city = await find_city(rt, args.city)
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = await s.scalar(select(Hospital).where(Hospital.code == args.hospital))
            if hospital is None:
                raise CliError(f"no hospital {args.hospital!r} in {city.slug}")
            if meta.hospital_settings is not None:
                try:
                    row = await hospital_config.configure_hospital_plugin(
                        s, actor, hospital.id, args.adapter, settings=values, secrets=secrets, host=host)
                except SettingsInvalid as exc:
                    raise CliError(f"{exc.message}\n{exc.english()}") from None
                except DomainError as exc:
                    raise CliError(exc.message) from None
                shown = {k: v for k, v in (row.settings or {}).items() if v is not None}
                lines.append(f"{hospital.code} {args.adapter} settings {json.dumps(shown, ensure_ascii=False)}"
                             + (f"; secrets stored: {', '.join(sorted(secrets))}" if secrets else ""))
            if hospital.his_adapter != args.adapter:
                before = hospital.his_adapter
                hospital.his_adapter = args.adapter
                audit.record(s, actor, "hospital.his_adapter", target_type="hospital", target_id=hospital.id,
                             summary=f"HIS 接口：{before or '（城市默认）'} → {args.adapter}",
                             before={"his_adapter": before}, after={"his_adapter": args.adapter})
            lines.append(f"{hospital.code} ({hospital.name}) uses the HIS adapter {args.adapter}")
    rt.resolver.invalidate(city.slug)
    return lines


def cmd_his_set(args) -> int:
    print("\n".join(run(_set, args)))
    return 0


def add_his_config_commands(subs, epilog: str = "") -> None:
    """Add ``his set`` to the shared ``his`` group."""
    group = his_commands(subs)
    p = add_command(group, "set", "Pick a hospital's HIS adapter and store its own settings for it.", cmd_his_set,
                    EXAMPLES)
    p.add_argument("city", help="the city (slug)")
    p.add_argument("hospital", help="the hospital's code")
    p.add_argument("adapter", help="the HIS adapter plugin (hl7v2, demo_his …; see `guahao plugin list`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting; repeat for more")
    p.add_argument("--secret", action="append", default=[], metavar="KEY=VALUE",
                   help="a credential, stored encrypted; repeat for more")
    p.add_argument("--unset", action="append", default=[], metavar="KEY",
                   help="remove a stored hospital setting (the city's value applies again); repeat for more")
