"""Running a simulation: each process plays its share of the stations on its own uvloop;
the parent starts the processes, keeps them in step (all connected before the load
starts, one moment for every drop of a storm), shows progress and merges the figures.

Phases, in every mode: connect (each station connects and boots), then
    load   the sessions, for --duration seconds, paced as asked; then the calls under way
           are answered (or time out) and the sockets closed
    idle   the sockets are held, silent but for heartbeats, for --duration seconds
    storm  every socket is dropped at once (no close handshake, as a network failure
           would) and every station connects and boots again; timed to the last boot
"""
import asyncio
import gc
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import random
import resource
import secrets
import socket
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from datetime import UTC, datetime
from urllib.parse import urlsplit

from picows import WSHandshakeError, ws_connect

from chargebus.runtime.service import COLLECTOR_THRESHOLDS
from chargebus.simulate.options import Mode, Options, Pace, versions_of_stations
from chargebus.simulate.progress import Progress
from chargebus.simulate.scenario import StationState
from chargebus.simulate.station import BOOT, Station
from chargebus.simulate.stats import CallStats

HANDSHAKE_TIMEOUT = 30.0
RECONNECT_DELAY = 1.0  # a station that lost its socket waits this long, plus jitter
CONNECT_RETRY_DELAY = 0.5
BOOT_RETRY_SECONDS = 5.0  # at most, for a boot answered Pending or Rejected
PACER_TICK = 0.002
PROGRESS_SECONDS = 0.5
SWEEP_SECONDS = 0.5
DRAIN_SECONDS = 10.0  # the longest the calls under way at the end are waited for
CLOSE_SECONDS = 5.0
START_DELAY = 0.2  # from the parent's go to the moment every process starts
# Each station's socket needs a picows read buffer; OCPP messages rarely exceed this.
READ_BUFFER_BYTES = 4096
FILES_PER_PROCESS = 64
# One logger for every connection: picows would otherwise look one up per connection.
# Beyond the sockets: pipes, the event loop, imports.
PICOWS_LOG = logging.getLogger("picows.simulate")


class SimulationError(Exception):
    """The run could not go on; the message says why, for the user."""


class ProcessRunner:
    """One process's stations and their figures."""

    def __init__(self, options: Options, share: int, run_tag: str, control):
        self.options = options
        self.pace = options.pace
        self.control = control
        self.stats = CallStats()  # of the phase under way
        self.connect_stats: CallStats | None = None
        self.connect_failures: Counter[str] = Counter()
        self.sent = self.lost_calls = self.unexpected = self.malformed = 0
        self.disconnects = self.boot_retries = self.missed = self.offered = 0
        self.window_answers = self.answers = 0
        self.in_window = self.pacing = self.closing = False
        self.booted_count = self.given_up = 0
        self.last_boot_at = 0.0
        self.ready: deque[Station] = deque()
        self._unique_ids = itertools.count(1)
        self._id_prefix = f"{run_tag}{share:x}."
        versions = versions_of_stations(options.stations, options.mix)
        self.stations = [
            Station(self, StationState(
                index=index, station_id=options.station_id(index), version=versions[index],
                meter_values=options.meter_values, meter_interval=options.meter_interval,
                run_tag=run_tag), options.station_url(index))
            for index in range(share, options.stations, options.processes)]
        self._settled: asyncio.Event | None = None
        self._reconnecting: asyncio.Semaphore | None = None
        self._inbox: asyncio.Queue | None = None
        self._tasks: set[asyncio.Task] = set()

    def next_unique_id(self) -> str:
        return f"{self._id_prefix}{next(self._unique_ids):x}"

    # -- what stations tell the runner ---------------------------------------------------

    def scripted(self, station: Station) -> bool:
        """Whether the station's next call waits for its pace (else it may go at once)."""
        return self.pacing

    def on_connected(self, station: Station) -> None:
        station.send_boot()

    def on_answer(self, station: Station, action: str, payload: dict | None,
                  from_script: bool, answered: bool = True) -> None:
        """A CALLRESULT (payload), a CALLERROR (None) or, not answered, a timeout (None)."""
        if answered:
            self.answers += 1
            if self.in_window:
                self.window_answers += 1
        if action == BOOT and not station.booted and not from_script:
            self._booted_or_retry(station, payload)
            return
        if from_script:
            station.last_answer = payload
        if self.pacing:
            self._schedule(station)
        elif station.state.triggered and not self.closing:
            station.send_next()

    def on_disconnected(self, station: Station, was_booted: bool) -> None:
        if was_booted:
            self.booted_count -= 1
        if self.closing or station.dropping:
            return
        self.disconnects += 1
        # A real station comes back after a while, with a new boot.
        self._spawn(self._reconnect_later(station))

    def _booted_or_retry(self, station: Station, payload: dict | None) -> None:
        if payload is not None and payload.get("status") == "Accepted":
            station.booted = True
            self.booted_count += 1
            self.last_boot_at = time.time()
            self._check_settled()
            if self.pacing:
                self._schedule(station, first=True)
                return
            if station.state.triggered:
                station.send_next()  # a TriggerMessage came while the boot was under way
            if self.options.mode is Mode.IDLE:
                interval = payload.get("interval")
                if isinstance(interval, int) and interval > 0:
                    station.timer = asyncio.get_running_loop().call_later(
                        interval, self._heartbeat, station, interval)
            return
        self.boot_retries += 1
        interval = payload.get("interval") if payload else None
        delay = min(interval, BOOT_RETRY_SECONDS) if isinstance(interval, int) and interval > 0 \
            else BOOT_RETRY_SECONDS
        station.timer = asyncio.get_running_loop().call_later(delay, self._boot_again, station)

    def _boot_again(self, station: Station) -> None:
        station.timer = None
        if station.transport is not None and station.pending is None and not self.closing:
            station.send_boot()

    def _heartbeat(self, station: Station, interval: int) -> None:
        if station.transport is None or self.closing:
            return
        if station.pending is None:
            station.send_call("Heartbeat", {}, from_script=False)
        station.timer = asyncio.get_running_loop().call_later(
            interval, self._heartbeat, station, interval)

    def _schedule(self, station: Station, first: bool = False) -> None:
        if self.pace is Pace.MAX:
            station.send_next()
        elif self.pace is Pace.STATION:
            # The first calls are spread over one interval, as a fleet's clocks are.
            delay = random.uniform(0, self.options.meter_interval) if first \
                else self.options.meter_interval
            station.timer = asyncio.get_running_loop().call_later(delay, station.send_next)
        else:
            self.ready.append(station)

    def _check_settled(self) -> None:
        if self._settled is not None and \
                self.booted_count + self.given_up >= len(self.stations):
            self._settled.set()

    # -- phases --------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._settled = asyncio.Event()
        self._reconnecting = asyncio.Semaphore(self.options.connect_concurrency)
        self._inbox = asyncio.Queue()
        loop.add_reader(self.control.fileno(), self._read_control)
        # uvloop makes the pipe non-blocking; the results, megabytes of latencies, would
        # then fail to go once the pipe is full. Reads only happen when it is readable.
        os.set_blocking(self.control.fileno(), True)
        self._spawn(self._report_progress())
        self._spawn(self._sweep_timeouts())
        started = time.time()
        await self._connect_all()
        gc.freeze()  # what the connect phase made lives until the end: never collected
        self._send("ready", {"booted": self.booted_count, "seconds": time.time() - started,
                             "last_boot_at": self.last_boot_at})
        command, at = await self._inbox.get()
        # The boots of the connect phase are reported apart: they would otherwise
        # weigh on the percentiles of the load that follows.
        self.connect_stats, self.stats = self.stats, CallStats()
        outcome: dict = {}
        if command != "stop":
            await asyncio.sleep(max(0.0, at - time.time()))
            if self.options.mode is Mode.LOAD:
                outcome = await self._load()
            elif self.options.mode is Mode.IDLE:
                outcome = await self._hold()
            else:
                outcome = await self._storm(at)
        await self._close_all()
        for task in self._tasks:
            task.cancel()
        loop.remove_reader(self.control.fileno())
        self._send("result", {"stats": self.stats, "connect_stats": self.connect_stats,
                              "counters": self._counters(),
                              "outcome": outcome})

    async def _connect_all(self) -> None:
        """Every station connects and boots, --connect-concurrency attempts at a time."""
        assert self._settled is not None  # run() made it
        self._settled.clear()
        self.given_up = 0
        deadline = time.monotonic() + self.options.phase_timeout
        waiting = iter(self.stations)

        # A fixed pool of connectors rather than a task per station waiting on a
        # semaphore: with thousands of waiters, asyncio's semaphore costs more than the
        # connections themselves.
        async def connector() -> None:
            for station in waiting:
                await self._connect(station, deadline)

        await asyncio.gather(*(connector() for _ in range(
            min(self.options.connect_concurrency, len(self.stations)))))
        try:
            await asyncio.wait_for(self._settled.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            pass

    async def _connect(self, station: Station, deadline: float) -> None:
        headers = {"Sec-WebSocket-Protocol": station.version.value}
        while not self.closing and time.monotonic() < deadline:
            try:
                transport, _ = await ws_connect(
                    station.listener, station.url, extra_headers=headers,
                    websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
                    read_buffer_init_size=READ_BUFFER_BYTES, enable_auto_ping=False,
                    # uvloop's transport: a storm costs the simulator less CPU on it
                    # than on aiofastnet's (benchmarks/README.md).
                    use_aiofastnet=False,
                    logger_name=PICOWS_LOG)
            except WSHandshakeError as error:
                status = getattr(error.response, "status", None)
                reason = f"HTTP {int(status)}" if status is not None else "handshake failed"
                if status is not None and 400 <= status < 500:
                    # Refused for what the station is; asking again changes nothing.
                    self.connect_failures[reason] += 1
                    break
            except Exception as error:  # any failure is counted and retried
                reason = type(error).__name__
            else:
                if station.transport is transport:
                    return
                break  # no common subprotocol: counted by the station
            self.connect_failures[reason] += 1
            await asyncio.sleep(CONNECT_RETRY_DELAY * (1 + random.random()))
        self.given_up += 1
        self._check_settled()

    async def _reconnect_later(self, station: Station) -> None:
        await asyncio.sleep(RECONNECT_DELAY * (1 + random.random()))
        if not self.closing and station.transport is None:
            assert self._reconnecting is not None  # run() made it
            async with self._reconnecting:
                await self._connect(station, time.monotonic() + self.options.phase_timeout)

    async def _load(self) -> dict:
        started = time.time()
        self.in_window = self.pacing = True
        for station in self.stations:
            if station.booted:
                self._schedule(station, first=True)
        pacer = self._spawn(self._pace()) if self.pace is Pace.RATE else None
        await asyncio.sleep(self.options.duration)
        self.in_window = self.pacing = False
        seconds = time.time() - started
        if pacer is not None:
            pacer.cancel()
        for station in self.stations:
            if station.timer is not None:
                station.timer.cancel()
                station.timer = None
        drain_until = time.monotonic() + min(self.options.call_timeout, DRAIN_SECONDS)
        while time.monotonic() < drain_until and self._in_flight():
            await asyncio.sleep(0.05)
        return {"seconds": seconds, "answered": self.window_answers,
                "offered": self.offered, "missed": self.missed,
                "unanswered": self._in_flight()}

    async def _pace(self) -> None:
        """Open loop: calls go out at the rate, to whichever stations are free; when
        none is, the call is counted as missed rather than sent late in a burst."""
        loop = asyncio.get_running_loop()
        assert self.options.rate is not None  # paced by rate: one is given
        rate = self.options.rate / self.options.processes
        started = loop.time()
        issued = 0
        while True:
            await asyncio.sleep(PACER_TICK)
            due = int((loop.time() - started) * rate) - issued
            while due > 0 and self.ready:
                station = self.ready.popleft()
                if station.transport is None or station.pending is not None:
                    continue
                station.send_next()
                issued += 1
                due -= 1
            if due > 0:
                self.missed += due
                issued += due
            self.offered = issued

    async def _hold(self) -> dict:
        await asyncio.sleep(self.options.duration)
        return {"held": self.booted_count, "seconds": self.options.duration}

    async def _storm(self, dropped_at: float) -> dict:
        for station in self.stations:
            station.drop()
        until = time.monotonic() + CLOSE_SECONDS
        while time.monotonic() < until and any(s.transport is not None for s in self.stations):
            await asyncio.sleep(0.01)
        self.last_boot_at = 0.0
        await self._connect_all()
        return {"booted": self.booted_count, "dropped_at": dropped_at,
                "last_boot_at": self.last_boot_at}

    async def _close_all(self) -> None:
        self.closing = True
        for station in self.stations:
            if station.timer is not None:
                station.timer.cancel()
            station.close()
        until = time.monotonic() + CLOSE_SECONDS
        while time.monotonic() < until and any(s.transport is not None for s in self.stations):
            await asyncio.sleep(0.02)

    # -- housekeeping --------------------------------------------------------------------

    def _in_flight(self) -> int:
        return sum(1 for station in self.stations if station.pending is not None)

    async def _sweep_timeouts(self) -> None:
        limit = self.options.call_timeout
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.perf_counter()
            for station in self.stations:
                if station.pending is not None and now - station.pending[2] > limit:
                    station.timed_out()

    async def _report_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            self._send("progress", {
                "connected": sum(1 for s in self.stations if s.transport is not None),
                "booted": self.booted_count,
                "answered": self.answers,
                "callerrors": sum(self.stats.callerrors.values()) + (
                    sum(self.connect_stats.callerrors.values()) if self.connect_stats else 0),
                "in_flight": self._in_flight()})

    def _counters(self) -> dict:
        return {"connect_failures": self.connect_failures, "disconnects": self.disconnects,
                "lost_calls": self.lost_calls, "unexpected": self.unexpected,
                "malformed": self.malformed, "boot_retries": self.boot_retries,
                "sent": self.sent}

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _read_control(self) -> None:
        try:
            message = self.control.recv()
        except EOFError:
            message = ("stop", 0.0)  # the parent is gone
            asyncio.get_running_loop().remove_reader(self.control.fileno())
        assert self._inbox is not None  # run() made it before it read
        self._inbox.put_nowait(message)

    def _send(self, kind: str, body) -> None:
        self.control.send((kind, body))


def raise_open_files_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if needed > hard:
        raise SimulationError(
            f"{needed} open files are needed in one process and this machine allows {hard}; "
            "use more --processes")
    if needed > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _child(options: Options, share: int, run_tag: str, control) -> None:
    import uvloop

    # Thousands of long-lived connections make every full collection walk them all:
    # with the default thresholds, collections took a seventh of a storm's CPU. The
    # same settings as the services', for the same reason.
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        raise_open_files_limit(_files_needed(options))
        uvloop.run(ProcessRunner(options, share, run_tag, control).run())
    except BaseException:  # the parent reports it; nothing else can
        control.send(("error", traceback.format_exc()))
        raise SystemExit(1)


def _files_needed(options: Options) -> int:
    return -(-options.stations // options.processes) + FILES_PER_PROCESS


@dataclass
class _Child:
    share: int
    process: BaseProcess
    control: multiprocessing.connection.Connection
    progress: dict | None = None
    ready: dict | None = None
    result: dict | None = None


def _check_reachable(url: str) -> None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=5):
            pass
    except OSError as error:
        raise SimulationError(f"nothing answers at {parts.hostname}:{port} "
                              f"({error.strerror or error})") from None


def run(options: Options, progress: Progress | None = None,
        on_holding: Callable[[], None] | None = None) -> dict:
    """Run the simulation; the results as a dict (see ``report``). ``on_holding`` is
    called in this process once every station of an idle run is connected and booted,
    while the sockets are held."""
    options.check()
    _check_reachable(options.url)
    needed = _files_needed(options)
    raise_open_files_limit(needed + 16)
    run_tag = secrets.token_hex(3)
    context = multiprocessing.get_context("spawn")
    children = []
    try:
        for share in range(options.processes):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=_child, args=(options, share, run_tag, child_end),
                                      name=f"chargebus-simulate-{share}", daemon=True)
            process.start()
            child_end.close()
            children.append(_Child(share, process, parent_end))
        return _Coordinator(options, children, progress, on_holding).run()
    finally:
        for child in children:
            if child.process.is_alive():
                child.process.terminate()
            child.process.join(5)
            if child.process.is_alive():
                child.process.kill()
                child.process.join()


class _Coordinator:
    def __init__(self, options: Options, children: list[_Child], progress: Progress | None,
                 on_holding: Callable[[], None] | None):
        self.options = options
        self.children = children
        self.progress = progress
        self.on_holding = on_holding
        self.started = time.time()
        self.started_at = datetime.now(UTC)
        self.phase = "connect"
        self.phase_started = time.monotonic()
        self.at = 0.0
        # Beyond this the run is stopped: every phase has its own bound, plus margins.
        self.deadline = time.monotonic() + 2 * options.phase_timeout + options.duration \
            + min(options.call_timeout, DRAIN_SECONDS) + 2 * CLOSE_SECONDS + 60

    def run(self) -> dict:
        while any(child.result is None for child in self.children):
            if time.monotonic() > self.deadline:
                raise SimulationError("the simulation did not finish in time")
            waiting = [child.control for child in self.children if child.result is None]
            for control in multiprocessing.connection.wait(waiting, timeout=0.25):
                self._receive(next(c for c in self.children if c.control is control))
            if self.phase == "connect" and all(child.ready for child in self.children):
                self._start()
            if self.progress is not None:
                self.progress.update(self.phase, time.monotonic() - self.phase_started,
                                     self._totals())
        if self.progress is not None:
            self.progress.finish()
        return self._results()

    def _receive(self, child: _Child) -> None:
        try:
            kind, body = child.control.recv()
        except (EOFError, OSError):
            child.process.join(5)
            raise SimulationError(f"simulator process {child.share} exited "
                                  f"(code {child.process.exitcode})") from None
        if kind == "progress":
            child.progress = body
        elif kind == "ready":
            child.ready = body
        elif kind == "result":
            child.result = body
        elif kind == "error":
            raise SimulationError(f"simulator process {child.share} failed:\n{body}")

    def _start(self) -> None:
        self.at = time.time() + START_DELAY
        command = "drop" if self.options.mode is Mode.STORM else "go"
        for child in self.children:
            child.control.send((command, self.at))
        self.phase = self.options.mode.value
        self.phase_started = time.monotonic() + START_DELAY
        if self.on_holding is not None and self.options.mode is Mode.IDLE:
            time.sleep(START_DELAY)
            self.on_holding()

    def _totals(self) -> dict:
        totals: Counter = Counter()
        for child in self.children:
            totals.update(child.progress or {})
        return dict(totals) | {"stations": self.options.stations,
                               "duration": self.options.duration}

    def _results(self) -> dict:
        stats, connect_stats = CallStats(), CallStats()
        counters: Counter = Counter()
        failures: Counter = Counter()
        # run() returns once every child has sent its result, each after its ready.
        finals = [child.result for child in self.children if child.result is not None]
        readies = [child.ready for child in self.children if child.ready is not None]
        for final in finals:
            stats.merge(final["stats"])
            connect_stats.merge(final["connect_stats"])
            result_counters = dict(final["counters"])
            failures.update(result_counters.pop("connect_failures"))
            counters.update(result_counters)
        options = self.options
        outcomes = [final["outcome"] for final in finals]
        results = {
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "url": options.url,
            "options": {
                "mode": options.mode.value, "stations": options.stations,
                "mix": {version.value: round(weight, 4) for version, weight in options.mix},
                "rate": ("max" if options.pace is Pace.MAX else options.rate),
                "duration": options.duration, "meter_interval": options.meter_interval,
                "meter_values": options.meter_values, "processes": options.processes,
                "connect_concurrency": options.connect_concurrency,
                "call_timeout": options.call_timeout},
            "connect": {"stations": options.stations,
                        "booted": sum(ready["booted"] for ready in readies),
                        "seconds": max(ready["seconds"] for ready in readies),
                        "failures": dict(failures), "calls": connect_stats.summary()},
            "connection": dict(counters),
        }
        if options.mode is Mode.LOAD and all(outcomes):
            seconds = max(outcome["seconds"] for outcome in outcomes)
            answered = sum(outcome["answered"] for outcome in outcomes)
            results["load"] = {
                "seconds": seconds, "answered": answered,
                "calls_per_second": answered / seconds if seconds else 0.0,
                "offered_per_second": options.rate if options.pace is Pace.RATE else None,
                "missed": sum(outcome["missed"] for outcome in outcomes),
                "unanswered": sum(outcome["unanswered"] for outcome in outcomes)}
        elif options.mode is Mode.IDLE and all(outcomes):
            results["idle"] = {"held": sum(outcome["held"] for outcome in outcomes),
                               "seconds": options.duration}
        elif options.mode is Mode.STORM and all(outcomes):
            booted = sum(outcome["booted"] for outcome in outcomes)
            last = max(outcome["last_boot_at"] for outcome in outcomes)
            results["storm"] = {"stations": options.stations, "booted": booted,
                                "seconds": (last - self.at) if booted else None,
                                "complete": booted == options.stations}
        results["calls"] = stats.summary()
        return results
