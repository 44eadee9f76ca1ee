"""Read-only SQL over NATS: the request, and its answer in as many replies as it takes.

The request (subjects.sink_query(), answered by the sink) is the SQL. The answer goes
to the request's reply inbox, in order: each reply holds whole rows, JSON objects one a
line, and stays under the NATS server's max_payload; it carries its number (the header
events.QUERY_PART, from 0), and the last one carries QUERY_ROWS too, the number of rows
in all. An error ends an answer instead: a reply with QUERY_ERROR (one of the kinds
below) and the reason as text, after whatever rows came before it (a limit may stop a
query midway).
"""
from collections.abc import AsyncIterator

import orjson
from nats.aio.client import Client
from nats.errors import NoRespondersError

from chargebus.bus import events, subjects

REFUSED = "refused"  # ClickHouse's protection refused the query: nothing ran
LIMIT = "limit"      # a limit stopped it; the reason names the limit and its setting
FAILED = "failed"    # anything else: a syntax error, an unknown table, no ClickHouse

# events.NATS_STATUS on a reply that no subscriber of the subject took.
_NO_RESPONDERS = "503"
# Room for a reply's headers, which the server counts in max_payload and nats-py not.
_HEADER_ROOM = 1024
# What a client tells of an answer that is not rows, or not whole.
_NOT_ROWS = ("the answer is not rows as JSON objects (a FORMAT clause? chargebus answers "
             "rows as JSON: leave it out)")


class QueryFailed(Exception):
    def __init__(self, kind: str, reason: str):
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


class Answer:
    """The answering side: rows in, as pieces of whole lines; replies out, each as full
    as max_payload allows."""

    def __init__(self, nc: Client, inbox: str):
        self._nc = nc
        self._inbox = inbox
        self._room = nc.max_payload - _HEADER_ROOM
        self._pending = bytearray()
        self._parts = 0
        self._rows = 0

    async def add(self, lines: bytes) -> None:
        """QueryFailed (LIMIT) for a row that no reply can hold."""
        self._pending += lines
        while len(self._pending) > self._room:
            cut = self._pending.rfind(b"\n", 0, self._room) + 1
            if cut == 0:
                size = self._pending.find(b"\n") + 1 or len(self._pending)
                raise QueryFailed(LIMIT, f"a row of {size} bytes is over what one reply "
                                         f"holds: NATS's max_payload is {self._nc.max_payload}"
                                         " bytes")
            await self._send(bytes(self._pending[:cut]))
            del self._pending[:cut]

    async def end(self) -> None:
        await self._send(bytes(self._pending), last=True)

    async def fail(self, kind: str, reason: str) -> None:
        """The rows so far, then the error."""
        if self._pending and len(self._pending) <= self._room:
            await self._send(bytes(self._pending))
        self._pending.clear()
        await self._nc.publish(self._inbox, reason.encode()[:self._room],
                               headers={events.QUERY_ERROR: kind})

    async def _send(self, lines: bytes, last: bool = False) -> None:
        self._rows += lines.count(b"\n")
        headers = ({events.QUERY_PART: str(self._parts)}
                   | ({events.QUERY_ROWS: str(self._rows)} if last else {}))
        self._parts += 1
        await self._nc.publish(self._inbox, lines, headers=headers)


async def ask(nc: Client, sql: str, timeout: float) -> AsyncIterator[dict]:
    """The rows of the answer to ``sql`` as they come. QueryFailed where the sink
    answered with an error, or the answer is not whole rows; TimeoutError where no reply
    came within ``timeout`` seconds of the request or of the reply before;
    NoRespondersError where no sink runs."""
    inbox = nc.new_inbox()
    replies = await nc.subscribe(inbox)
    try:
        await nc.publish(subjects.sink_query(), sql.encode(), reply=inbox)
        parts = rows = 0
        while True:
            reply = await replies.next_msg(timeout=timeout)
            headers = reply.headers or {}
            if headers.get(events.NATS_STATUS) == _NO_RESPONDERS:
                raise NoRespondersError
            if events.QUERY_ERROR in headers:
                raise QueryFailed(headers[events.QUERY_ERROR],
                                  reply.data.decode(errors="replace"))
            if headers.get(events.QUERY_PART) != str(parts):
                raise QueryFailed(FAILED, f"reply {parts} of the answer was lost "
                                          f"(the next one was {headers.get(events.QUERY_PART)})")
            parts += 1
            for line in reply.data.splitlines():
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError:
                    row = None
                if not isinstance(row, dict):
                    raise QueryFailed(FAILED, _NOT_ROWS)
                rows += 1
                yield row
            if events.QUERY_ROWS in headers:
                if headers[events.QUERY_ROWS] != str(rows):
                    raise QueryFailed(FAILED, f"the answer had {headers[events.QUERY_ROWS]} "
                                              f"rows, {rows} of them came")
                return
    finally:
        await replies.unsubscribe()


async def rows_of(nc: Client, sql: str, timeout: float) -> list[dict]:
    """Every row of the answer (ask())."""
    return [row async for row in ask(nc, sql, timeout)]
