"""The contract for CSMS-to-station calls, between whoever sends one and the edge that
holds the station's socket.

Request, on subjects.station_command(edge, station) of the edge the station's presence
record names: the call's payload as JSON, the action
in the ACTION header, the time the sender waits, in seconds, in the TIMEOUT header, and
who sends it in the SENDER header.
The edge queues calls per station and has one in flight; the wait counts from when
the edge takes the request, queueing included, so that a call is never sent to a
station after its sender stopped waiting.

Reply: the OUTCOME header says how it ended, the body carries the details as JSON:
    result   the station's CALLRESULT payload (checked against the response schema)
    error    {"errorCode", "errorDescription", "errorDetails"}: the station's CALLERROR
    invalid  {"reason"}: the call breaks its schema, or the station's answer did
    timeout  {"reason"}: no answer in time
    offline  {"reason"}: the station is not connected (or went away before answering)
and, never from the edge, what chargebus.operations.perform decides before sending:
    refused  {"reason"}: chargebus will not send it (a blocked token, no such call in
             the station's version, a payload that breaks the schema)
"""
import enum
import time
from dataclasses import dataclass

import orjson
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from chargebus.bus import events, subjects
from chargebus.domain.operations import TAKEN
from chargebus.operations import audit
from chargebus.state.records import Presence
from chargebus.state.stores import Stores

DEFAULT_TIMEOUT = 30.0
# Time the sender allows beyond the edge's own deadline for the reply to travel back.
REPLY_MARGIN = 2.0


class Outcome(enum.StrEnum):
    RESULT = "result"
    ERROR = "error"
    INVALID = "invalid"
    TIMEOUT = "timeout"
    OFFLINE = "offline"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class CommandReply:
    outcome: Outcome
    body: dict

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.RESULT

    def encode(self) -> tuple[bytes, dict[str, str]]:
        return orjson.dumps(self.body), {events.OUTCOME: self.outcome.value}

    @classmethod
    def failure(cls, outcome: Outcome, reason: str) -> "CommandReply":
        return cls(outcome, {"reason": reason})


def taken(action: str, reply: CommandReply) -> bool:
    """Whether the station took the call: every variable of a SetVariables, the status
    of the others."""
    if not reply.ok:
        return False
    if action == "SetVariables":
        return all(result.get("attributeStatus") in TAKEN
                   for result in reply.body.get("setVariableResult") or [{}])
    return reply.body.get("status") in TAKEN


async def call_station(nc: Client, station_id: str, action: str, payload: dict,
                       timeout: float = DEFAULT_TIMEOUT, sender: str = "") -> CommandReply:
    """Send ``action`` to a station, wherever it is connected, and wait for its answer.
    ``sender`` says who asks, for the audit trail (default: the client's NATS name)."""
    presence = await Stores(nc.jetstream()).presence.get(station_id)
    return await call_present(nc, station_id, presence, action, payload, timeout, sender)


async def call_present(nc: Client, station_id: str, presence: Presence | None, action: str,
                       payload: dict, timeout: float = DEFAULT_TIMEOUT, sender: str = ""
                       ) -> CommandReply:
    """call_station, for a caller that has read the station's presence record already."""
    started = time.perf_counter()
    sender = sender or nc.options.get("name") or ""
    js = nc.jetstream()
    version = presence.version.value if presence else None
    if presence is None or not presence.online:
        return await _ended_here(js, station_id, action, payload, sender, Outcome.OFFLINE,
                                 f"{station_id} is not connected", started, version)
    try:
        reply = await nc.request(
            subjects.station_command(presence.edge_id, station_id), orjson.dumps(payload),
            timeout=timeout + REPLY_MARGIN,
            headers={events.ACTION: action, events.TIMEOUT: repr(float(timeout)),
                     events.SENDER: sender})
    except NoRespondersError:  # its edge is gone; the station has not come back elsewhere
        return await _ended_here(js, station_id, action, payload, sender, Outcome.OFFLINE,
                                 f"{station_id} is not connected", started, version)
    except NatsTimeoutError:  # the edge records the call when it ends, if it can
        return CommandReply.failure(Outcome.TIMEOUT,
                                    f"no reply from the edge of {station_id} in time")
    outcome = Outcome((reply.headers or {}).get(events.OUTCOME, Outcome.INVALID.value))
    return CommandReply(outcome, orjson.loads(reply.data))


async def _ended_here(js: JetStreamContext, station_id: str, action: str, payload: dict,
                      sender: str, outcome: Outcome, reason: str, started: float,
                      version: str | None) -> CommandReply:
    """A call no edge took: recorded here, as the edge records those it takes."""
    await audit.record(js, audit.ended_before_an_edge(
        station_id, action, payload, sender, outcome.value, reason, started, version))
    return CommandReply.failure(outcome, reason)
