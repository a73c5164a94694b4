"""``guahao invoice run|list|show|finalize|pay|void|pdf|html|push|seller`` (R14.4).

Invoices are addressed by their id (``N``), as ``invoice list`` and ``invoice run`` print it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from guahao.core.cli.common import CliError, add_command, pad, run

from .contract import cli_actor

EXAMPLES = """\
examples:
  guahao invoice run --period 2026-11              # a draft per city with a contract
  guahao invoice run --period 2026-11 --city demo  # one city (replaces its draft)
  guahao invoice list --period 2026-11
  guahao invoice show 12 --json
  guahao invoice finalize 12                       # numbered GH-2026-000123, immutable
  guahao invoice pay 12 --reference "银行转账 20261205"
  guahao invoice void 12 --reason "合同金额有误"     # a credit note negates it
  guahao invoice pdf 12 --out GH-2026-000123.pdf
"""


async def _in_city(rt, invoice_id: int, work):
    """Run ``work(s)`` in the invoice's city; a user's mistake becomes a one-line error."""
    from guahao.core.errors import DomainError
    from guahao.plugin_api import city_session

    from ..invoices.queries import city_of_invoice

    try:
        city = await city_of_invoice(rt, invoice_id)
        async with city_session(rt, city) as s:
            return city, await work(s)
    except DomainError as exc:
        raise CliError(exc.message) from None


async def _run(rt, period: str, city: str | None) -> list[dict]:
    from guahao.core.errors import DomainError

    from ..invoices.run import run_invoices

    if city is not None:
        from guahao.core.cli.common import find_city

        await find_city(rt, city)
    try:
        return [o.as_dict() for o in await run_invoices(rt, period, city=city, actor=cli_actor())]
    except DomainError as exc:
        raise CliError(exc.message) from None


def cmd_run(args) -> int:
    from ..contracts.money import yuan

    outcomes = run(_run, args.period, args.city)
    if args.json:
        print(json.dumps(outcomes, ensure_ascii=False, indent=2))
        return 0
    if not outcomes:
        print("no city has a contract: nothing to invoice")
    for o in outcomes:
        if o["outcome"] == "drafted":
            print(f"{pad(o['city'], 16)} draft #{o['invoice_id']}  {yuan(o['total_fen'])} CNY")
        else:
            print(f"{pad(o['city'], 16)} skipped: {o['reason']}")
    return 0


async def _show(rt, invoice_id: int) -> dict:
    from ..invoices.queries import get_invoice, invoice_as_dict, invoice_lines

    async def work(s):
        return await get_invoice(s, invoice_id), await invoice_lines(s, invoice_id)

    city, (invoice, lines) = await _in_city(rt, invoice_id, work)
    return invoice_as_dict(invoice, lines, city=city.slug)


def cmd_show(args) -> int:
    from ..contracts.money import yuan

    data = run(_show, args.id)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    print(f"#{data['id']} {data['kind']} {data['number'] or '(draft)'}  {data['city']}  {data['period']}  {data['status']}")
    for line in data["lines"]:
        ledger = line["ledger"]
        rows = f"  rows {ledger['first_seq']}–{ledger['last_seq']}" if ledger["rows"] else ""
        print(f"  {pad(line['description'], 56)} {yuan(line['amount_fen']):>16}{rows}")
    print(f"  {pad('小计 subtotal', 56)} {yuan(data['subtotal_fen']):>16}")
    print(f"  {pad('增值税 VAT ' + data['vat_percent'] + '%', 56)} {yuan(data['vat_fen']):>16}")
    print(f"  {pad('合计 total', 56)} {yuan(data['total_fen']):>16}")
    return 0


async def _list(rt, city: str | None, period: str | None, status: str | None) -> list[dict]:
    from ..invoices.queries import invoice_as_dict, list_all_invoices

    return [invoice_as_dict(inv, city=ctx.slug) for ctx, inv in
            await list_all_invoices(rt, city=city, period=period, status=status)]


def cmd_list(args) -> int:
    from ..contracts.money import yuan

    rows = run(_list, args.city, args.period, args.status)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no invoices")
    for r in rows:
        print(f"#{r['id']:<6} {pad(r['city'], 16)} {r['period']}  {pad(r['kind'], 12)} {pad(r['status'], 10)} "
              f"{(r['number'] or '-'):<18} {yuan(r['total_fen']):>16}")
    return 0


def _state_command(action: str):
    async def go(rt, args) -> dict:
        from ..invoices import states
        from ..invoices.queries import invoice_as_dict

        actor = cli_actor()

        async def work(s):
            if action == "finalize":
                day = date.fromisoformat(args.issued_on) if args.issued_on else None
                return [await states.finalize_invoice(s, args.id, actor, issued_on=day)]
            if action == "pay":
                return [await states.mark_paid(s, args.id, actor, reference=args.reference or "")]
            return list(await states.void_invoice(s, args.id, actor, reason=args.reason))

        city, invoices = await _in_city(rt, args.id, work)
        return {"invoices": [invoice_as_dict(i, city=city.slug) for i in invoices]}

    def cmd(args) -> int:
        if action == "finalize" and args.issued_on:
            try:
                date.fromisoformat(args.issued_on)
            except ValueError:
                raise CliError(f"--issued-on {args.issued_on!r} is not a date such as 2026-12-01") from None
        data = run(go, args)["invoices"]
        first = data[0]
        if action == "finalize":
            print(f"invoice #{first['id']} finalized as {first['number']} (issued {first['issued_on']})")
        elif action == "pay":
            print(f"invoice #{first['id']} {first['number']} marked paid")
        else:
            print(f"invoice #{first['id']} {first['number']} voided; credit note #{data[1]['id']} {data[1]['number']}")
        return 0

    return cmd


async def _document(rt, invoice_id: int, kind: str) -> bytes:
    from ..invoices.documents import invoice_html, invoice_pdf

    async def work(s):
        if kind == "pdf":
            return await invoice_pdf(s, invoice_id)
        return (await invoice_html(s, invoice_id)).encode("utf-8")

    return (await _in_city(rt, invoice_id, work))[1]


def _document_command(kind: str):
    def cmd(args) -> int:
        data = run(_document, args.id, kind)
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out} ({len(data)} bytes)")
        return 0

    return cmd


async def _push(rt, invoice_id: int, key_file: str, api_base: str) -> dict:
    from guahao.core.errors import DomainError

    from ..invoices.queries import city_of_invoice, invoice_as_dict
    from ..invoices.stripe_push import push_to_stripe, stripe_client

    try:
        key = Path(key_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CliError(f"cannot read the Stripe key file {key_file}: {exc.strerror or exc}") from None
    if not key.startswith(("sk_", "rk_")):
        raise CliError(f"{key_file} does not hold a Stripe secret key (sk_… or rk_…)")
    try:
        city = await city_of_invoice(rt, invoice_id)
        invoice = await push_to_stripe(rt, city, invoice_id, cli_actor(), client=stripe_client(key, api_base))
    except DomainError as exc:
        raise CliError(exc.message) from None
    return invoice_as_dict(invoice, city=city.slug)


def cmd_push(args) -> int:
    data = run(_push, args.id, args.stripe_key_file, args.stripe_api_base or "")
    print(f"invoice #{data['id']} {data['number']} pushed to Stripe as {data['stripe_invoice_id']}")
    return 0


async def _seller(rt, changes: dict) -> dict:
    from ..invoices.seller import get_seller, set_seller

    async with rt.db.transaction() as s:
        return await set_seller(s, **changes) if changes else await get_seller(s)


def cmd_seller(args) -> int:
    from ..invoices.seller import FIELDS

    changes = {k: getattr(args, k) for k in FIELDS if getattr(args, k) is not None}
    print(json.dumps(run(_seller, changes), ensure_ascii=False, indent=2))
    return 0


def add_invoice_commands(subs) -> None:
    """Add the ``invoice`` commands."""
    top = add_command(subs, "invoice", "Invoice runs, invoices and credit notes (the vendor's billing).", None, EXAMPLES)
    inner = top.add_subparsers(dest="invoice_command", metavar="ACTION", required=True)
    p = add_command(inner, "run", "Draft the month's invoice of every city with a contract (or of one).", cmd_run,
                    EXAMPLES)
    p.add_argument("--period", required=True, help="the month, YYYY-MM")
    p.add_argument("--city", help="only this city (its slug)")
    p.add_argument("--json", action="store_true")
    p = add_command(inner, "list", "List invoices and credit notes of every city.", cmd_list,
                    "example:\n  guahao invoice list --city demo --period 2026-11")
    p.add_argument("--city")
    p.add_argument("--period")
    p.add_argument("--status", choices=("draft", "finalized", "paid", "voided", "discarded"))
    p.add_argument("--json", action="store_true")
    p = add_command(inner, "show", "Show an invoice with its lines and the ledger rows they came from.", cmd_show,
                    "example:\n  guahao invoice show 12 --json")
    p.add_argument("id", type=int, metavar="N", help="the invoice's id")
    p.add_argument("--json", action="store_true")
    p = add_command(inner, "finalize", "Issue a draft: number it (gap-free per year) and freeze it.",
                    _state_command("finalize"), "example:\n  guahao invoice finalize 12")
    p.add_argument("id", type=int, metavar="N")
    p.add_argument("--issued-on", metavar="DATE", help="the date of issue (default today, the city's calendar)")
    p = add_command(inner, "pay", "Record that a finalized invoice was paid.", _state_command("pay"),
                    "example:\n  guahao invoice pay 12 --reference 'transfer 20261205'")
    p.add_argument("id", type=int, metavar="N")
    p.add_argument("--reference", help="the payment's reference (bank transfer, Stripe …)")
    p = add_command(inner, "void", "Void an issued invoice with a credit note that negates it.", _state_command("void"),
                    "example:\n  guahao invoice void 12 --reason '合同金额有误'")
    p.add_argument("id", type=int, metavar="N")
    p.add_argument("--reason", required=True)
    for kind in ("pdf", "html"):
        p = add_command(inner, kind, f"Write the printable invoice as {kind.upper()}.", _document_command(kind),
                        f"example:\n  guahao invoice {kind} 12 --out invoice-12.{kind}")
        p.add_argument("id", type=int, metavar="N")
        p.add_argument("--out", required=True, metavar="FILE")
    p = add_command(inner, "push", "Push an issued invoice to Stripe Invoicing (the vendor's own account).", cmd_push,
                    "example:\n  guahao invoice push 12 --stripe-key-file ~/.config/guahao/stripe-vendor.key")
    p.add_argument("id", type=int, metavar="N")
    p.add_argument("--stripe-key-file", required=True, metavar="FILE", help="a file holding the vendor's sk_… key")
    p.add_argument("--stripe-api-base", metavar="URL", help="Stripe's API address (default Stripe's own)")
    p = add_command(inner, "seller", "Show or set the seller (the vendor) printed on invoices.", cmd_seller,
                    "example:\n  guahao invoice seller --name '某某信息技术有限公司' --tax-id 91330100XXXXXXXXXX")
    for field in ("name", "name_en", "tax_id", "address", "bank_account", "email", "phone"):
        p.add_argument(f"--{field.replace('_', '-')}", dest=field)
