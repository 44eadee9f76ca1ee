"""What a simulation run is asked to do, and the parsing of what users type for it."""
import enum
import math
from dataclasses import dataclass

from chargebus.ocpp import OcppVersion
from chargebus.state.identifiers import MAX_STATION_ID_LENGTH, InvalidIdentifier, check_station_id

# Room left in a station id for the station's number after the prefix.
STATION_NUMBER_DIGITS = 6
MAX_STATIONS = 10 ** STATION_NUMBER_DIGITS - 1


class Mode(enum.StrEnum):
    LOAD = "load"  # sessions with meter values, at the chosen rate
    IDLE = "idle"  # connect, boot, then hold the sockets and send nothing
    STORM = "storm"  # connect and boot, all drop at once, all reconnect and boot again


class Pace(enum.StrEnum):
    STATION = "station"  # each station waits meter_interval after an answer
    RATE = "rate"  # an aggregate number of calls per second, open loop
    MAX = "max"  # each station sends its next call when the answer comes


@dataclass(frozen=True)
class Options:
    url: str  # stations connect to <url>/<station id>
    stations: int = 100
    mix: tuple[tuple[OcppVersion, float], ...] = ((OcppVersion.V16, 1.0),)
    rate: float | None = None  # calls/s; None: per-station pace; math.inf: as fast as answered
    duration: float = 10.0
    meter_interval: float = 5.0
    meter_values: int = 10  # per session
    processes: int = 1
    mode: Mode = Mode.LOAD
    station_prefix: str = "SIM-"
    connect_concurrency: int = 500
    call_timeout: float = 30.0
    # The longest the stations may take to connect and boot (and, in a storm, to come back).
    phase_timeout: float = 120.0

    @property
    def pace(self) -> Pace:
        if self.rate is None:
            return Pace.STATION
        return Pace.MAX if math.isinf(self.rate) else Pace.RATE

    def station_id(self, index: int) -> str:
        return f"{self.station_prefix}{index:0{STATION_NUMBER_DIGITS}d}"

    def station_url(self, index: int) -> str:
        return f"{self.url.rstrip('/')}/{self.station_id(index)}"

    def check(self) -> None:
        """Raises ValueError naming the first option that cannot work."""
        if not 1 <= self.stations <= MAX_STATIONS:
            raise ValueError(f"--stations must be between 1 and {MAX_STATIONS}")
        if not 1 <= self.processes <= min(64, self.stations):
            raise ValueError("--processes must be between 1 and the number of stations "
                             "(64 at most)")
        for name in ("duration", "meter_interval", "call_timeout", "phase_timeout"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"--{name.replace('_', '-')} must be a positive number of seconds")
        if self.meter_values < 1:
            raise ValueError("--meter-values must be at least 1")
        if self.connect_concurrency < 1:
            raise ValueError("--connect-concurrency must be at least 1")
        if not self.url.startswith(("ws://", "wss://")):
            raise ValueError(f"--url must start with ws:// or wss://, not {self.url!r}")
        longest = self.station_prefix + "9" * STATION_NUMBER_DIGITS
        if len(longest) > MAX_STATION_ID_LENGTH:
            raise ValueError(f"--station-prefix leaves no room: station ids are at most "
                             f"{MAX_STATION_ID_LENGTH} characters")
        try:
            check_station_id(longest)
        except InvalidIdentifier as error:
            raise ValueError(f"--station-prefix: {error}") from None


_VERSION_NAMES = {name: version for version in OcppVersion
                  for name in (version.value, version.value.removeprefix("ocpp"))}


def parse_mix(text: str) -> tuple[tuple[OcppVersion, float], ...]:
    """``1.6=0.5,2.0.1=0.5`` (weights, scaled to sum to 1; a version alone means 1)."""
    weights: dict[OcppVersion, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition("=")
        version = _VERSION_NAMES.get(name.strip())
        if version is None:
            raise ValueError(f"unknown OCPP version {name.strip()!r} in the mix; "
                             f"use {', '.join(v.value.removeprefix('ocpp') for v in OcppVersion)}")
        if version in weights:
            raise ValueError(f"{name.strip()} appears twice in the mix")
        try:
            value = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ValueError(f"the weight of {name.strip()} is not a number: {weight!r}") from None
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"the weight of {name.strip()} must be zero or more")
        weights[version] = value
    total = sum(weights.values())
    if not weights or total <= 0:
        raise ValueError(f"the mix {text!r} names no version with a weight above zero")
    return tuple((version, weight / total) for version, weight in weights.items() if weight > 0)


def parse_rate(text: str) -> float:
    """Calls per second offered in all, or ``max`` for as fast as the server answers."""
    if text.strip().lower() == "max":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise ValueError("the rate is a number of calls per second or 'max', "
                         f"not {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("the rate must be above zero calls per second")
    return value


def versions_of_stations(count: int,
                         mix: tuple[tuple[OcppVersion, float], ...]) -> list[OcppVersion]:
    """The version of each station, interleaved so that any contiguous or strided slice of
    stations (one process's share) has close to the same mix as the whole."""
    assigned = {version: 0 for version, _ in mix}
    versions = []
    for position in range(1, count + 1):
        # The version furthest behind its share so far goes next.
        version = max(mix, key=lambda item: item[1] * position - assigned[item[0]])[0]
        assigned[version] += 1
        versions.append(version)
    return versions
