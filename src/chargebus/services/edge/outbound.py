"""CSMS-to-station calls of one connection: queued in arrival order, one in flight.

Each call comes as a NATS request (chargebus.operations.commands) and ends with exactly one reply
to its sender: the station's answer, or why there is none; before that reply, the call
and its end are recorded in the audit trail (chargebus.operations.audit).
"""
import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from chargebus.bus import events
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.codec import (CALLRESULT, BrokenFrame, Dialect, Frame, InvalidOutgoing, call,
                                  check_result)
from chargebus.operations import audit
from chargebus.operations.commands import DEFAULT_TIMEOUT, CommandReply, Outcome

log = logging.getLogger(__name__)

MAX_QUEUED = 64


@dataclass(slots=True)
class _Command:
    msg: Msg
    action: str
    payload: dict
    deadline: float  # loop time after which the sender no longer waits
    sender: str
    taken: float  # perf_counter when the edge took it


class OutboundCalls:
    def __init__(self, nc: Client, station_id: str, version: OcppVersion, edge_id: str,
                 dialect: Dialect, send: Callable[[bytes], None],
                 on_reply: Callable[[Outcome], None]):
        self.station_id = station_id
        self._version = version
        self._edge_id = edge_id
        self._nc = nc
        self._dialect = dialect
        self._send = send
        self._on_reply = on_reply
        self._queue: list[_Command] = []  # at most MAX_QUEUED: a list is 700 bytes smaller
        self._in_flight: tuple[str, str, asyncio.Future] | None = None  # id, action, answer
        self._pump: asyncio.Task | None = None
        self._closed_reason: str | None = None
        # The replies being published: the loop holds a task only weakly. Made on the
        # first reply, as most stations never get a command.
        self._replying: set[asyncio.Task] | None = None

    def submit(self, msg: Msg) -> None:
        """Take a call request off the bus; a malformed one is answered at once."""
        loop = asyncio.get_running_loop()
        headers = msg.headers or {}
        try:
            action = headers[events.ACTION]
            timeout = float(headers.get(events.TIMEOUT, DEFAULT_TIMEOUT))
            payload = orjson.loads(msg.data)
        except (KeyError, ValueError) as error:
            self._reply(msg, CommandReply.failure(Outcome.INVALID,
                                                  f"not a call request: {error}"))
            return
        command = _Command(msg, action, payload, loop.time() + timeout,
                           headers.get(events.SENDER, ""), time.perf_counter())
        if self._closed_reason is not None:
            self._end(command, CommandReply.failure(Outcome.OFFLINE, self._closed_reason))
            return
        if len(self._queue) >= MAX_QUEUED:
            self._end(command, CommandReply.failure(
                Outcome.TIMEOUT, f"{MAX_QUEUED} calls already wait for {self.station_id}"))
            return
        self._queue.append(command)
        if self._pump is None:
            self._pump = asyncio.create_task(self._send_queued())

    def answered(self, frame: Frame) -> bool:
        """Hand the station's CALLRESULT or CALLERROR to the call it answers; False when
        no call of this connection awaits that unique id (a late or stray answer)."""
        if self._in_flight is None or self._in_flight[0] != frame.unique_id:
            return False
        answer = self._in_flight[2]
        if not answer.done():
            answer.set_result(frame)
        return True

    def close(self, reason: str) -> None:
        """The socket is gone: every call still queued or in flight ends as offline."""
        self._closed_reason = reason
        if self._in_flight is not None and not self._in_flight[2].done():
            self._in_flight[2].set_result(None)
        while self._queue:
            self._end(self._queue.pop(0), CommandReply.failure(Outcome.OFFLINE, reason))

    async def _send_queued(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                command = self._queue.pop(0)
                remaining = command.deadline - loop.time()
                if remaining <= 0:
                    self._end(command, CommandReply.failure(
                        Outcome.TIMEOUT, "waited in the queue until the sender gave up"))
                    continue
                self._end(command, await self._exchange(command, remaining))
        finally:
            self._pump = None

    async def _exchange(self, command: _Command, remaining: float) -> CommandReply:
        unique_id = str(uuid.uuid4())
        try:
            frame = call(self._dialect, unique_id, command.action, command.payload)
        except InvalidOutgoing as invalid:
            return CommandReply.failure(Outcome.INVALID, str(invalid))
        answer = asyncio.get_running_loop().create_future()
        self._in_flight = (unique_id, command.action, answer)
        try:
            self._send(frame)
            response = await asyncio.wait_for(answer, remaining)
        except TimeoutError:
            return CommandReply.failure(
                Outcome.TIMEOUT, f"{self.station_id} did not answer {command.action} in time")
        finally:
            self._in_flight = None
        if response is None:
            return CommandReply.failure(Outcome.OFFLINE, self._closed_reason or "disconnected")
        return self._interpret(command.action, response)

    def _interpret(self, action: str, response: Frame) -> CommandReply:
        if response.message_type == CALLRESULT:
            assert response.payload is not None  # decode() gives a CALLRESULT one
            try:
                check_result(self._dialect, action, response.payload)
            except BrokenFrame as broken:
                return CommandReply(Outcome.INVALID, {
                    "reason": f"the station's answer breaks the schema: {broken.description}",
                    "payload": response.payload})
            return CommandReply(Outcome.RESULT, response.payload)
        return CommandReply(Outcome.ERROR, {"errorCode": response.error_code,
                                            "errorDescription": response.error_description,
                                            "errorDetails": response.error_details})

    def _end(self, command: _Command, reply: CommandReply) -> None:
        """The call ended: recorded, then its sender told."""
        elapsed = time.perf_counter() - command.taken
        answered_at = utc_now()
        entry = audit.CommandRecord(
            id=audit.CommandRecord.new_id(), sender=command.sender, station_id=self.station_id,
            action=command.action, payload=command.payload, outcome=reply.outcome.value,
            answer=reply.body, requested_at=answered_at - timedelta(seconds=elapsed),
            answered_at=answered_at, latency_ms=round(elapsed * 1000, 3),
            edge_id=self._edge_id, version=self._version.value)
        self._reply(command.msg, reply, entry)

    def _reply(self, msg: Msg, reply: CommandReply,
               entry: audit.CommandRecord | None = None) -> None:
        self._on_reply(reply.outcome)
        body, headers = reply.encode()
        if self._replying is None:
            self._replying = set()
        task = asyncio.create_task(self._publish(msg.reply, body, headers, entry))
        self._replying.add(task)
        task.add_done_callback(self._replying.discard)

    async def _publish(self, inbox: str, body: bytes, headers: dict,
                       entry: audit.CommandRecord | None) -> None:
        if entry is not None:
            await audit.record(self._nc.jetstream(), entry)
        if not inbox:
            return
        try:
            await self._nc.publish(inbox, body, headers=headers)
        except Exception as error:  # NATS is down: the sender times out on its own
            log.warning("could not reply to a call request for %s: %s", self.station_id, error)

