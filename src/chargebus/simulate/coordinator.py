"""Running a simulation: the parent starts a process per share of the stations
(chargebus.simulate.process), keeps them in step (all connected before the load starts,
one moment for every drop of a storm), shows progress and merges their figures."""
import multiprocessing
import multiprocessing.connection
import secrets
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from chargebus.simulate.errors import SimulationError
from chargebus.simulate.openfiles import files_needed, raise_open_files_limit
from chargebus.simulate.options import Mode, Options, Pace
from chargebus.simulate.process import CLOSE_SECONDS, DRAIN_SECONDS, run_process
from chargebus.simulate.progress import Progress
from chargebus.simulate.stats import CallStats

START_DELAY = 0.2  # from the parent's go to the moment every process starts


@dataclass
class _Child:
    share: int
    process: multiprocessing.process.BaseProcess
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
    needed = files_needed(options)
    raise_open_files_limit(needed + 16)
    run_tag = secrets.token_hex(3)
    context = multiprocessing.get_context("spawn")
    children = []
    try:
        for share in range(options.processes):
            parent_end, child_end = context.Pipe()
            process = context.Process(target=run_process, args=(options, share, run_tag, child_end),
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
        totals: Counter[str] = Counter()
        for child in self.children:
            totals.update(child.progress or {})
        return dict(totals) | {"stations": self.options.stations,
                               "duration": self.options.duration}

    def _results(self) -> dict:
        stats, connect_stats = CallStats(), CallStats()
        counters: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        # Every child's, by now: run() waits for them all, and each is ready before done.
        finished = [child.result for child in self.children if child.result is not None]
        readies = [child.ready for child in self.children if child.ready is not None]
        for result in finished:
            stats.merge(result["stats"])
            connect_stats.merge(result["connect_stats"])
            result_counters = dict(result["counters"])
            failures.update(result_counters.pop("connect_failures"))
            counters.update(result_counters)
        options = self.options
        outcomes = [result["outcome"] for result in finished]
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
