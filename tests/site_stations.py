"""A site's worth of the project's simulated stations (chargebus.simulate), run in the
test's own process so that the test can read what each one holds at every instant
(chargebus.simulate.charging notes every change of what its car may draw): sessions
that start and stop at random, with cars of one or three phases, some nearly full."""
import asyncio
import contextlib
import itertools
import random
import time
import uuid
from dataclasses import dataclass

from picows import WSHandshakeError, ws_connect

from chargebus.ocpp import OcppVersion
from chargebus.simulate.charging import Car, SmartCharging
from chargebus.simulate.scenario import StationState
from chargebus.simulate.station import BOOT, Station
from chargebus.simulate.tally import Tally

VOLTAGE = 230.0
CALL_TIMEOUT = 10.0
METER_SECONDS = 1.0  # between a session's meter values


@dataclass(frozen=True)
class StationSpec:
    station_id: str
    version: OcppVersion
    evse_max: float = 32.0
    refuses: bool = False  # rejects every charging profile


@dataclass
class Pace:
    """How sessions come and go: each lasts this many meter values, with this idle time
    between two (seconds), both drawn at random; this share of cars charge on one
    phase, and this share are nearly full (they draw at most ``full_draw`` A)."""

    session_values: tuple[int, int] = (4, 14)
    idle: tuple[float, float] = (0.5, 6.0)
    single_phase: float = 0.3
    nearly_full: float = 0.2
    full_draw: float = 8.0


class SiteStations:
    """The StationRunner of every station: each call of a station's script waits for
    the pace (a meter interval, an idle time between sessions)."""

    def __init__(self, url_of, specs: list[StationSpec], pace: Pace, seed: int):
        self.random = random.Random(seed)
        self.pace = pace
        self.running = True
        self.stations: list[Station] = []
        self._ids = itertools.count(1)
        tag = f"{seed:x}"
        for index, spec in enumerate(specs):
            state = StationState(index=index, station_id=spec.station_id,
                                 version=spec.version, meter_values=4,
                                 meter_interval=METER_SECONDS, run_tag=tag)
            state.charging = SmartCharging(evse_max=spec.evse_max, voltage=VOLTAGE,
                                           refuses=spec.refuses, car=self._car())
            self.stations.append(Station(self, Tally(), state, url_of(spec.station_id)))
        self._booted = {station.state.station_id: asyncio.Event() for station in self.stations}
        self._sweeper: asyncio.Task | None = None
        self._overdue: set[str] = set()

    def _car(self) -> Car:
        pace = self.pace
        return Car(phases=1 if self.random.random() < pace.single_phase else 3,
                   max_current=self.random.choice((16.0, 32.0)),
                   tops_at=pace.full_draw if self.random.random() < pace.nearly_full else None)

    # -- the StationRunner ----------------------------------------------------------------

    def next_unique_id(self) -> str:
        return f"site.{next(self._ids):x}"

    def scripted(self, station: Station) -> bool:
        """The script waits for its pace; a call a TriggerMessage (or a fetch) asked for
        goes at once."""
        return False

    def on_connected(self, station: Station) -> None:
        station.send_boot()

    def on_answer(self, station: Station, action: str, payload: dict | None,
                  from_script: bool, answered: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if action == BOOT and not station.booted and not from_script:
            if payload is not None and payload.get("status") == "Accepted":
                station.booted = True
                self._booted[station.state.station_id].set()
                self._next(station, self.random.uniform(*self.pace.idle))
            else:
                station.timer = loop.call_later(1.0, station.send_boot)
            return
        if not from_script:  # a triggered call: the script keeps its own pace
            if station.state.triggered:
                station.send_next()
            elif station.state.station_id in self._overdue:
                self._overdue.discard(station.state.station_id)
                station.send_next()
            return
        station.last_answer = payload
        if action == "Heartbeat":  # a session ended: the next car comes after a while
            station.state.charging.car = self._car()
            station.state.meter_values = self.random.randint(*self.pace.session_values)
            self._next(station, self.random.uniform(*self.pace.idle))
        elif action in ("MeterValues", "TransactionEvent"):
            self._next(station, METER_SECONDS)
        else:
            self._next(station, 0.02)

    def _next(self, station: Station, delay: float) -> None:
        if self.running and station.transport is not None:
            station.timer = asyncio.get_running_loop().call_later(delay, self._due, station)

    def _due(self, station: Station) -> None:
        """The script's next call, now or, where a triggered call goes first or is under
        way, once it is answered."""
        if station.pending is not None or station.state.triggered:
            self._overdue.add(station.state.station_id)
            if station.pending is None:
                station.send_next()  # the triggered call
        else:
            station.send_next()

    def on_disconnected(self, station: Station, was_booted: bool) -> None:
        self._booted[station.state.station_id].clear()

    # -- driving them ---------------------------------------------------------------------

    async def connect(self, station: Station) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                await ws_connect(station.listener, station.url,
                                 extra_headers={"Sec-WebSocket-Protocol":
                                                station.version.value},
                                 enable_auto_ping=False)
                break
            except (OSError, WSHandshakeError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        await asyncio.wait_for(self._booted[station.state.station_id].wait(), 30)

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep())
        await asyncio.gather(*(self.connect(station) for station in self.stations))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.perf_counter()
            for station in self.stations:
                if station.pending is not None and now - station.pending[2] > CALL_TIMEOUT:
                    station.timed_out()

    async def stop(self) -> None:
        self.running = False
        if self._sweeper is not None:
            self._sweeper.cancel()
        for station in self.stations:
            if station.timer is not None:
                station.timer.cancel()
            station.close()
        await asyncio.sleep(0.2)

    def by_id(self, station_id: str) -> Station:
        return next(each for each in self.stations if each.state.station_id == station_id)


# Stations that boot and stay idle: no session comes in a test's time.
IDLE = Pace(idle=(3600.0, 3600.0))


@contextlib.asynccontextmanager
async def idle_station(system, version: OcppVersion, prefix: str, refuses: bool = False):
    """One simulated station of ``version``, booted on the system, idle."""
    spec = StationSpec(f"{prefix}-{uuid.uuid4().hex[:8]}", version, refuses=refuses)
    stations = SiteStations(system.station_url, [spec], IDLE, seed=1)
    await stations.start()
    try:
        yield stations.stations[0]
    finally:
        await stations.stop()


async def cli(system, *arguments: str, input: str | None = None,
              environment: dict[str, str] | None = None):
    """The command line, off the loop: the stations in this process answer meanwhile."""
    return await asyncio.to_thread(system.cli, *arguments, input=input,
                                   environment=environment)
