"""The audit trail of CSMS-to-station calls: each call, whoever sent it, with how it ended.

The edge that holds the station records every call it takes, once it ends, before it
replies to the sender (one JetStream publish on the command's path); a call that never
reaches an edge (the station offline, its edge gone) or that chargebus refuses before
sending is recorded by its sender (chargebus.operations.commands and .perform). The
records go to the COMMANDS stream; the sink copies them into ClickHouse's ``commands``
table; ``chargebus commands log`` reads the stream.
"""
import logging
import time
import uuid
from collections import deque
from datetime import datetime, timedelta

from nats.js import JetStreamContext
from pydantic import BaseModel

from chargebus.bus import events, subjects
from chargebus.bus.replay import replay
from chargebus.ocpp.clock import utc_now

log = logging.getLogger(__name__)

# How long a record may hold up the reply to its sender before it is given up (and
# logged): the audit must not stop the commands when JetStream is slow.
RECORD_TIMEOUT = 2.0


class CommandRecord(BaseModel):
    """One CSMS-to-station call and its end. ``answer``: the station's CALLRESULT
    payload, its CALLERROR (errorCode, errorDescription, errorDetails), or the reason
    there is no answer. ``latency_ms``: from the request taken to its end."""

    id: str
    sender: str
    station_id: str
    action: str
    payload: dict | None = None
    outcome: str
    answer: dict | None = None
    requested_at: datetime
    answered_at: datetime
    latency_ms: float
    edge_id: str | None = None
    version: str | None = None

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex


def ended_before_an_edge(station_id: str, action: str, payload: dict | None, sender: str,
                         outcome: str, reason: str, started: float,
                         version: str | None = None) -> CommandRecord:
    """A call that ended where it was sent from: chargebus refused it, or no edge holds
    the station. ``started``: time.perf_counter() when it was asked for."""
    elapsed = time.perf_counter() - started
    answered_at = utc_now()
    return CommandRecord(id=CommandRecord.new_id(), sender=sender, station_id=station_id,
                         action=action, payload=payload, outcome=outcome,
                         answer={"reason": reason},
                         requested_at=answered_at - timedelta(seconds=elapsed),
                         answered_at=answered_at, latency_ms=round(elapsed * 1000, 3),
                         version=version)


async def record(js: JetStreamContext, entry: CommandRecord) -> bool:
    """Publish one record; False (logged) where JetStream did not take it in time."""
    try:
        await js.publish(subjects.command_record(entry.station_id, entry.action),
                         entry.model_dump_json().encode(), timeout=RECORD_TIMEOUT,
                         headers={events.NATS_MSG_ID: entry.id})
    except Exception as error:  # the command goes on; the gap is in the log
        log.warning("could not record %s to %s in the audit trail: %s", entry.action,
                    entry.station_id, error or type(error).__name__)
        return False
    return True


async def read(js: JetStreamContext, station_id: str | None, since: datetime,
               limit: int) -> list[CommandRecord]:
    """The last ``limit`` records from ``since`` on, of one station or of all, oldest
    first."""
    found: deque[CommandRecord] = deque(maxlen=limit)
    async for msg in replay(js, subjects.COMMAND_STREAM, subjects.command_records(station_id),
                            since=since):
        found.append(CommandRecord.model_validate_json(msg.data))
    return list(found)


class ChangeRecord(BaseModel):
    """A change made to what chargebus keeps (tokens, sites, webhooks ...) that is no
    call to a station: who made it (an API key's name, the command line's user), to what,
    and what it set."""

    id: str
    sender: str
    resource: str
    action: str
    target: str | None = None
    detail: dict | None = None
    at: datetime


def change(sender: str, resource: str, action: str, target: str | None,
           detail: dict | None = None) -> ChangeRecord:
    return ChangeRecord(id=CommandRecord.new_id(), sender=sender, resource=resource,
                        action=action, target=target, detail=detail, at=utc_now())


async def record_change(js: JetStreamContext, entry: ChangeRecord) -> bool:
    """Publish one change; False (logged) where JetStream did not take it in time."""
    try:
        await js.publish(subjects.change_record(entry.resource),
                         entry.model_dump_json().encode(), timeout=RECORD_TIMEOUT,
                         headers={events.NATS_MSG_ID: entry.id})
    except Exception as error:  # the change is made; the gap is in the log
        log.warning("could not record the %s %s of %s in the trail of changes: %s",
                    entry.resource, entry.action, entry.target, error or type(error).__name__)
        return False
    return True


async def read_changes(js: JetStreamContext, since: datetime, limit: int
                       ) -> list[ChangeRecord]:
    """The last ``limit`` changes from ``since`` on, oldest first."""
    found: deque[ChangeRecord] = deque(maxlen=limit)
    async for msg in replay(js, subjects.CHANGE_STREAM, subjects.change_records(),
                            since=since):
        found.append(ChangeRecord.model_validate_json(msg.data))
    return list(found)
