"""``guahao staff create`` and ``guahao vendor create``: bootstrap console accounts.

The first city administrator and the vendor administrator are created here; everyone else is
created in the operator console. Changes are audited as made by ``system`` (the shell user).
"""

from __future__ import annotations

import argparse

from guahao.core.errors import DomainError

from .common import CliError, add_command, find_city, run


async def _staff_create(rt, args) -> str:
    from sqlalchemy import select

    from guahao.core.audit import SYSTEM
    from guahao.core.models import Hospital
    from guahao.core.staff.accounts import create_staff
    from guahao.tenants.context import use_city

    city = await find_city(rt, args.city)
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital_id = None
            if args.hospital:
                hospital_id = await s.scalar(select(Hospital.id).where(Hospital.code == args.hospital))
                if hospital_id is None:
                    raise CliError(f"no hospital with code {args.hospital!r} in {city.slug}")
            try:
                account = await create_staff(
                    s, SYSTEM, username=args.username, display_name=args.name or args.username, role=args.role,
                    password=args.password, email=args.email or "", hospital_id=hospital_id,
                )
            except DomainError as exc:
                raise CliError(_explain(exc)) from None
    return f"created {account.role} {account.username} in {city.slug}; log in at /console/c/{city.slug}/login"


async def _vendor_create(rt, args) -> str:
    from guahao.core.staff.vendor import create_vendor

    try:
        account = await create_vendor(rt.db, username=args.username, password=args.password,
                                      display_name=args.name or "", email=args.email or "")
    except DomainError as exc:
        raise CliError(_explain(exc)) from None
    return f"created vendor administrator {account.username}; log in at /console/login"


def _explain(exc: DomainError) -> str:
    details = f" ({', '.join(f'{k}: {v}' for k, v in exc.details.items())})" if isinstance(exc.details, dict) else ""
    return f"{exc.message}{details}"


def cmd_staff_create(args) -> int:
    print(run(_staff_create, args))
    return 0


def cmd_vendor_create(args) -> int:
    print(run(_vendor_create, args))
    return 0


def add_staff_commands(subs, epilog: str) -> None:
    """Add ``staff create`` and ``vendor create`` to the top-level sub-commands."""
    from guahao.core.models.staff import StaffRole

    staff = subs.add_parser("staff", help="Create operator-console staff accounts of a city.",
                            description="Create operator-console staff accounts of a city.", epilog=epilog,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ssubs = staff.add_subparsers(dest="staff_command", metavar="STAFF_COMMAND", required=True)
    p = add_command(ssubs, "create", "Create a staff account (e.g. the city's first administrator).", cmd_staff_create,
                    "example:\n  guahao staff create --city hz --role city_admin --username admin --password 'a-long-secret-1'")
    p.add_argument("--city", required=True, help="the city's slug")
    p.add_argument("--role", required=True, choices=[r.value for r in StaffRole if r is not StaffRole.vendor_admin])
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True, help="at least 10 characters with letters and digits")
    p.add_argument("--name", help="display name (default: the username)")
    p.add_argument("--email")
    p.add_argument("--hospital", metavar="CODE", help="hospital code, for hospital roles")

    vendor = subs.add_parser("vendor", help="Create vendor administrator accounts (every city).",
                             description="Create vendor administrator accounts (every city).", epilog=epilog,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    vsubs = vendor.add_subparsers(dest="vendor_command", metavar="VENDOR_COMMAND", required=True)
    p = add_command(vsubs, "create", "Create a vendor administrator.", cmd_vendor_create,
                    "example:\n  guahao vendor create --username ops --password 'a-long-secret-1'")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True, help="at least 10 characters with letters and digits")
    p.add_argument("--name", help="display name")
    p.add_argument("--email")
