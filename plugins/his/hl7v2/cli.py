"""``guahao his simulate``: run the bundled MLLP HIS simulator (entry point ``guahao.commands``)."""

from __future__ import annotations

import asyncio


def cmd_simulate(args) -> int:
    from .simulator import serve

    try:
        asyncio.run(serve(args.host, args.port, reject_next=args.reject_next, error_next=args.error_next))
    except KeyboardInterrupt:
        pass
    return 0


def add_commands(subs) -> None:
    """Add ``his simulate`` to the ``his`` group of the ``guahao`` command."""
    from guahao.core.cli.common import add_command
    from guahao.core.cli.his import his_commands

    p = add_command(
        his_commands(subs), "simulate",
        "Run a small HIS that speaks HL7 v2.5 over MLLP: it logs and acknowledges every message (hl7v2 plugin).",
        cmd_simulate,
        "examples:\n  guahao his simulate                     # listens on 127.0.0.1:2575\n"
        "  guahao his simulate --port 2600 --reject-next 1\n"
        "  guahao his set demo H1 hl7v2 --set host=127.0.0.1 --set port=2575   # point a hospital at it\n",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2575, help="port to listen on (default 2575)")
    p.add_argument("--reject-next", type=int, default=0, metavar="N", help="answer the next N messages with AR")
    p.add_argument("--error-next", type=int, default=0, metavar="N", help="answer the next N messages with AE")
