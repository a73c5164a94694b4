"""A hospital's FHIR server to try the adapter against: the fake server, seeded with doctors and
their afternoon Slots, served by uvicorn.

    python -m guahao.plugins.his.fhir.simulate --port 8090 --doctor D1=王建国 --doctor D2=李秀英
    guahao his set demo H1 fhir --set base_url=http://127.0.0.1:8090
    guahao his sync demo H1

Each doctor gets a Practitioner (identifier: the platform's doctor number, as the console shows
it), a Schedule (with the department's HealthcareService when ``--department`` is given) and,
Monday to Saturday for ``--days`` days from tomorrow, Slots 14:00–17:00 of an hour each with
``--capacity`` units (the SMART ``slot-capacity`` extension). ``--auth smart`` with
``--client-id`` and ``--public-key`` (PEM) makes it ask for SMART Backend Services tokens.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .fake import CAPACITY_EXT, FakeFhirServer
from .meta import SID

HOURS = (14, 15, 16)


def seed(server: FakeFhirServer, doctors: dict[str, str], *, start: date, days: int, capacity: int, tz: ZoneInfo,
         department: str = "") -> int:
    """Add the doctors, their Schedules and Slots; returns how many Slots were added."""
    actors = []
    if department:
        service = server.add({"resourceType": "HealthcareService", "name": department,
                              "identifier": [{"system": f"{SID}/department", "value": department}]})
        actors.append({"reference": f"HealthcareService/{service['id']}"})
    added = 0
    for code, name in doctors.items():
        person = server.add({"resourceType": "Practitioner", "name": [{"text": name}],
                             "identifier": [{"system": f"{SID}/doctor", "value": code}]})
        schedule = server.add({"resourceType": "Schedule", "active": True,
                               "actor": [{"reference": f"Practitioner/{person['id']}"}, *actors]})
        for offset in range(days):
            day = start + timedelta(days=offset)
            if day.weekday() == 6:
                continue
            for hour in HOURS:
                begins = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
                server.add({"resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule['id']}"},
                            "status": "free", "start": begins.isoformat(timespec="seconds"),
                            "end": (begins + timedelta(hours=1)).isoformat(timespec="seconds"),
                            "extension": [{"url": CAPACITY_EXT, "valueInteger": capacity}]})
                added += 1
    return added


def _doctor(text: str) -> tuple[str, str]:
    code, sep, name = text.partition("=")
    if not sep or not code.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: give CODE=NAME, e.g. D1=王建国")
    return code.strip(), name.strip()


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    p = argparse.ArgumentParser(prog="python -m guahao.plugins.his.fhir.simulate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--doctor", type=_doctor, action="append", default=[], metavar="CODE=NAME",
                   help="a doctor: the platform's doctor number and name (repeat)")
    p.add_argument("--department", default="", help="the department code the Schedules name")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--capacity", type=int, default=4)
    p.add_argument("--tz", default="Asia/Shanghai")
    p.add_argument("--auth", choices=("none", "bearer", "smart"), default="none")
    p.add_argument("--token", default="", help="the bearer token (--auth bearer)")
    p.add_argument("--client-id", default="", help="the SMART client to register (--auth smart)")
    p.add_argument("--public-key", default="", help="a PEM file: the client's public key (--auth smart)")
    p.add_argument("--kid", default="")
    args = p.parse_args(argv)
    server = FakeFhirServer(auth=args.auth, token=args.token)
    if args.auth == "smart":
        if not args.client_id or not args.public_key:
            p.error("--auth smart needs --client-id and --public-key")
        with open(args.public_key, encoding="utf-8") as f:
            server.register_client(args.client_id, f.read(), kid=args.kid)
    tz = ZoneInfo(args.tz)
    slots = seed(server, dict(args.doctor), start=datetime.now(tz).date() + timedelta(days=1), days=args.days,
                 capacity=args.capacity, tz=tz, department=args.department)
    print(f"FHIR R4 server at http://{args.host}:{args.port} ({len(args.doctor)} doctors, {slots} Slots, auth {args.auth})")
    print(f"  guahao his set CITY HOSPITAL fhir --set base_url=http://{args.host}:{args.port}")
    uvicorn.run(server.app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
