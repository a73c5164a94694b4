"""One MLLP exchange: connect, send a message (``0x0B`` … ``0x1C 0x0D``), read its ACK.

python-hl7's asyncio streams do the framing (``hl7.mllp.open_hl7_connection``); everything
here is bounded by the adapter's timeout. A HIS that cannot be reached, closes the connection
or says nothing in time raises :class:`HisUnavailable` (the outbox tries again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import hl7
from hl7.mllp import InvalidBlockError, open_hl7_connection

ENCODING = "utf-8"


class HisUnavailable(RuntimeError):
    """The HIS did not answer (refused, closed, timed out): retried by the outbox."""


async def exchange(host: str, port: int, er7: str, *, timeout: float) -> tuple[hl7.Message, float]:
    """Send ``er7`` to ``host:port`` and return the answer with the round trip in milliseconds."""
    started = time.perf_counter()
    where = f"{host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(
            open_hl7_connection(host, port, encoding=ENCODING, encoding_errors="replace"), timeout
        )
    except (OSError, asyncio.TimeoutError) as exc:
        raise HisUnavailable(f"HIS {where} cannot be reached: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    try:
        writer.writeblock(er7.encode(ENCODING))
        await asyncio.wait_for(writer.drain(), timeout)
        remaining = max(0.01, timeout - (time.perf_counter() - started))
        answer = await asyncio.wait_for(reader.readmessage(), remaining)
    except asyncio.TimeoutError:
        raise HisUnavailable(f"HIS {where} sent no ACK within {timeout:g} s") from None
    except (OSError, asyncio.IncompleteReadError, InvalidBlockError, EOFError) as exc:
        raise HisUnavailable(f"HIS {where} closed the connection without an ACK ({type(exc).__name__})") from None
    except (ValueError, hl7.ParseException) as exc:
        raise HisUnavailable(f"HIS {where} answered something that is not HL7: {exc}") from None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1)
    return answer, (time.perf_counter() - started) * 1000
