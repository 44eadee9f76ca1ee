"""One simulated station on its WebSocket: one call of its own in flight at a time (as
OCPP-J requires), the CSMS's calls answered whenever they come. It counts what it sees
in its process's Tally and tells its runner (a StationRunner) what happened."""
import asyncio
import time
from types import ModuleType
from typing import Protocol

import orjson
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from chargebus.ocpp import OcppVersion
from chargebus.ocpp.closeframes import answer_close
from chargebus.simulate import transfers, v2x, v16
from chargebus.simulate.scenario import Refusal, Script, StationState
from chargebus.simulate.tally import Tally

DIALECTS: dict[OcppVersion, ModuleType] = {
    OcppVersion.V16: v16, OcppVersion.V201: v2x, OcppVersion.V21: v2x}

CALL, CALLRESULT, CALLERROR = 2, 3, 4
BOOT = "BootNotification"


class StationRunner(Protocol):
    """What a station tells the runner that plays it, and asks of it."""

    def next_unique_id(self) -> str: ...

    def scripted(self, station: "Station") -> bool:
        """Whether the station's next call waits for its pace (else it may go at once)."""

    def on_connected(self, station: "Station") -> None: ...

    def on_answer(self, station: "Station", action: str, payload: dict | None,
                  from_script: bool, answered: bool = True) -> None:
        """A CALLRESULT (payload), a CALLERROR (None) or, not answered, a timeout (None)."""

    def on_disconnected(self, station: "Station", was_booted: bool) -> None: ...


class Station:
    __slots__ = ("runner", "tally", "state", "dialect", "url", "transport", "pending",
                 "script", "last_answer", "booted", "dropping", "timer", "transferring")

    def __init__(self, runner: StationRunner, tally: Tally, state: StationState, url: str):
        self.runner = runner
        self.tally = tally
        self.state = state
        self.dialect = DIALECTS[state.version]
        self.url = url
        self.transport: WSTransport | None = None
        # (unique id, action, perf_counter at send, whether the script made the call)
        self.pending: tuple[str, str, float, bool] | None = None
        self.script: Script | None = None
        self.last_answer: dict | None = None
        self.booted = False
        self.dropping = False  # the runner closed the socket on purpose
        self.timer: asyncio.TimerHandle | None = None  # a scheduled send
        self.transferring: set[asyncio.Task] = set()

    @property
    def version(self) -> OcppVersion:
        return self.state.version

    # -- sending -------------------------------------------------------------------------

    def send_call(self, action: str, payload: dict, from_script: bool) -> None:
        unique_id = self.runner.next_unique_id()
        self.pending = (unique_id, action, time.perf_counter(), from_script)
        self.tally.sent += 1
        assert self.transport is not None  # sent only while connected
        self.transport.send(WSMsgType.TEXT, orjson.dumps([CALL, unique_id, action, payload]))

    def send_boot(self) -> None:
        self.send_call(BOOT, self.dialect.boot(self.state), from_script=False)

    def send_next(self) -> None:
        """The next call: one a TriggerMessage asked for, else the script's next step."""
        self.timer = None
        if self.transport is None or self.pending is not None:
            return
        if self.state.triggered:
            action, payload = self.state.triggered.popleft()
            self.send_call(action, payload, from_script=False)
            return
        if self.script is None:
            self.script = self.dialect.sessions(self.state)
            action, payload = next(self.script)
        else:
            answer, self.last_answer = self.last_answer, None
            action, payload = self.script.send(answer)
        self.send_call(action, payload, from_script=True)

    # -- receiving -----------------------------------------------------------------------

    def on_message(self, data: bytes) -> None:
        tally = self.tally
        try:
            message = orjson.loads(data)
            kind = message[0]
        except (orjson.JSONDecodeError, IndexError, KeyError, TypeError):
            tally.malformed += 1
            return
        if kind == CALL:
            self._answer_csms(message)
            return
        pending = self.pending
        if pending is None or len(message) < 3 or message[1] != pending[0]:
            tally.unexpected += 1  # late (after its timeout) or never asked for
            return
        _, action, sent_at, from_script = pending
        latency = time.perf_counter() - sent_at
        self.pending = None
        if kind == CALLRESULT and isinstance(message[2], dict):
            payload = message[2]
            tally.stats.record(action, latency)
            for status in self.dialect.statuses(action, payload):
                tally.stats.authorization[f"{action} {status}"] += 1
        elif kind == CALLERROR:
            payload = None
            tally.stats.callerrors[(action, str(message[2]))] += 1
        else:
            tally.malformed += 1
            payload = None
        self.runner.on_answer(self, action, payload, from_script)

    def _answer_csms(self, message: list) -> None:
        tally = self.tally
        if len(message) != 4 or not isinstance(message[3], dict):
            tally.malformed += 1
            return
        _, unique_id, action, payload = message
        outcome = self.dialect.answer(self.state, action, payload)
        if isinstance(outcome, Refusal):
            frame = [CALLERROR, unique_id, outcome.code, outcome.description, {}]
            tally.stats.csms_calls[(action, outcome.code)] += 1
        else:
            frame = [CALLRESULT, unique_id, outcome.payload]
            tally.stats.csms_calls[(action, "answered")] += 1
        assert self.transport is not None  # the call came on it
        self.transport.send(WSMsgType.TEXT, orjson.dumps(frame))
        while self.state.transfers:
            task = asyncio.create_task(self._transfer(self.state.transfers.popleft()))
            # Held until it ends: asyncio keeps only a weak reference to a task.
            self.transferring.add(task)
            task.add_done_callback(self.transferring.discard)
        self._send_triggered()

    def _send_triggered(self) -> None:
        if self.state.triggered and self.pending is None and not self.runner.scripted(self):
            self.send_next()

    async def _transfer(self, transfer: transfers.Transfer) -> None:
        """A file fetched or sent, then reported; while it goes, the station goes on."""
        went_through = await transfers.run(transfer)
        self.state.triggered.extend(transfer.reported(went_through))
        if self.transport is not None:
            self._send_triggered()

    def timed_out(self) -> None:
        assert self.pending is not None  # the timeout of the call in flight
        _, action, _, from_script = self.pending
        self.pending = None
        self.tally.stats.timeouts[action] += 1
        self.runner.on_answer(self, action, None, from_script, answered=False)

    # -- the connection ------------------------------------------------------------------

    def connected(self, transport: WSTransport) -> None:
        agreed = transport.response.headers.get("Sec-WebSocket-Protocol")
        if agreed != self.version.value:
            self.tally.connect_failures[f"subprotocol {agreed!r}"] += 1
            transport.disconnect()
            return
        self.transport = transport
        self.dropping = False
        self.runner.on_connected(self)

    def disconnected(self) -> None:
        was_booted, self.booted = self.booted, False
        self.transport = None
        self.script = None  # a station that lost its socket boots again and starts over
        self.last_answer = None
        if self.pending is not None:
            self.tally.lost_calls += 1
            self.pending = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.runner.on_disconnected(self, was_booted)

    def drop(self) -> None:
        """Lose the connection as a network failure would: no close handshake."""
        if self.transport is not None:
            self.dropping = True
            self.transport.disconnect(graceful=False)

    def close(self) -> None:
        if self.transport is not None:
            self.dropping = True
            self.transport.send_close(WSCloseCode.OK)
            self.transport.disconnect()

    def listener(self) -> "StationListener":
        return StationListener(self)


class StationListener(WSListener):
    """picows callbacks, handed to the station."""

    __slots__ = ("station", "fragments")

    def __init__(self, station: Station):
        self.station = station
        self.fragments: list[bytes] | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.station.connected(transport)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.TEXT:
            if frame.fin:
                self.station.on_message(frame.get_payload_as_bytes())
            else:
                self.fragments = [frame.get_payload_as_bytes()]
        elif kind is WSMsgType.CONTINUATION and self.fragments is not None:
            self.fragments.append(frame.get_payload_as_bytes())
            if frame.fin:
                data, self.fragments = b"".join(self.fragments), None
                self.station.on_message(data)
        elif kind is WSMsgType.CLOSE:
            answer_close(transport, frame)
            transport.disconnect()
        elif kind is WSMsgType.BINARY:
            self.station.tally.malformed += 1  # OCPP-J travels in text frames only

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.station.transport is transport:
            self.station.disconnected()
