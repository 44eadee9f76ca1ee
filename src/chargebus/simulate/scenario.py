"""What every simulated station plays, whatever its version: the state a script keeps
between calls, and the time as stations write it.

A version module (``v16``, ``v2x``) provides, for a StationState:
    boot(state)                       the BootNotification payload
    sessions(state)                   a generator of (action, payload) calls after the boot;
                                      it is sent each CALLRESULT payload, or None for a
                                      CALLERROR or a call that timed out
    answer(state, action, payload)    the answer to a CSMS-initiated call: Result or Refusal
    statuses(action, payload)         the statuses of an answer worth counting
"""
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from chargebus.ocpp import OcppVersion
from chargebus.simulate import transfers
from chargebus.simulate.charging import Car, SmartCharging

Call = tuple[str, dict]
Script = Generator[Call, dict | None, None]

# A station charges at this power unless a charging profile holds it lower (a 32 A
# single-phase car); its energy register advances by what it draws per meter interval.
CHARGING_WATTS = 7360.0
VOLTS = 230.4


@dataclass(slots=True)
class Result:
    """A CALLRESULT payload for a CSMS-initiated call."""
    payload: dict


@dataclass(slots=True)
class Refusal:
    """A CALLERROR for a CSMS-initiated call."""
    code: str
    description: str


@dataclass(slots=True)
class StationState:
    index: int
    station_id: str
    version: OcppVersion
    meter_values: int  # per session
    meter_interval: float  # seconds a reading stands for
    id_token: str = ""
    # Tells one run's 2.x transaction ids from another's against the same CSMS.
    run_tag: str = ""
    energy_wh: float = 0.0
    sessions_started: int = 0
    local_list_version: int = 0
    # Calls a TriggerMessage asked for, sent before the script's next call.
    triggered: deque = field(default_factory=deque)
    configuration: dict = field(default_factory=dict)
    # The reservations it holds: reservation id -> the token it is for.
    reservations: dict = field(default_factory=dict)
    # 2.x: its variable monitors, by id: (component, variable, type, value, severity).
    monitors: dict = field(default_factory=dict)
    events_raised: int = 0
    # 2.x: the messages it shows, by id, as SetDisplayMessage gave them.
    display_messages: dict = field(default_factory=dict)
    firmware_version: str = "1.0.0"
    # Its firmware downloads fail (DownloadFailed): it asks for a broken URL, as through
    # a proxy that mangles them (chargebus.simulate.transfers.broken).
    firmware_fails: bool = False
    # Files to fetch or send (chargebus.simulate.transfers), which the station starts
    # once it has answered the call that asked for them.
    transfers: deque = field(default_factory=deque)
    # Its diagnostics file's size, and whether it uploads by HTTP POST (a form) rather
    # than PUT.
    upload_bytes: int = 2048
    upload_by_post: bool = False
    # Seconds it waits before a transfer, as a busy station does.
    transfer_delay: float = 0.0
    # Its charging profiles, transaction and car (chargebus.simulate.charging).
    charging: SmartCharging = field(default_factory=lambda: SmartCharging(
        voltage=VOLTS, car=Car(phases=1, max_current=CHARGING_WATTS / VOLTS)))

    def __post_init__(self) -> None:
        if not self.id_token:
            self.id_token = token_of(self.index)
        if not self.energy_wh:
            # Registers that do not all start at zero, as in a real fleet.
            self.energy_wh = float(self.index % 997) * 1000.0

    def advance_energy(self) -> float:
        self.energy_wh += self.charging.watts() * self.meter_interval / 3600.0
        return self.energy_wh


def firmware_statuses(downloaded: bool, signed: bool) -> list[str]:
    """What a station reports after its download: to the end, or its failure."""
    if not downloaded:
        return ["DownloadFailed"]
    return ["Downloaded", *(["SignatureVerified"] if signed else []), "Installing",
            "Installed"]


def firmware_download(state: "StationState", location: str,
                      reported: Callable[[bool], list[tuple[str, dict]]]) -> None:
    """Fetch the firmware at ``location``, then report what ``reported`` says."""
    url = transfers.broken(location) if state.firmware_fails else location
    state.transfers.append(transfers.Transfer("download", url, reported,
                                              delay=state.transfer_delay))


def log_upload(state: "StationState", location: str, name: str,
               reported: Callable[[bool], list[tuple[str, dict]]]) -> None:
    """Upload a log file named ``name`` to ``location``, then report."""
    lines = (f"{state.station_id} {now()} diagnostics line {number}\n"
             for number in range(state.upload_bytes // 48 + 1))
    content = "".join(lines).encode()[:state.upload_bytes]
    state.transfers.append(transfers.Transfer("upload", location, reported, name=name,
                                              content=content, by_post=state.upload_by_post,
                                              delay=state.transfer_delay))


def token_of(index: int) -> str:
    """The id token station ``index`` presents (at most 20 characters, as 1.6 allows)."""
    return f"SIMTAG{index:06d}"


class _Clock:
    """RFC 3339 UTC time with milliseconds; the part down to the second is formatted once
    a second, since every call of every station needs the time."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        moment = time.time()
        second = int(moment)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((moment - second) * 1000):03d}Z"


now = _Clock().now


def log_request(state: "StationState", payload: dict) -> dict:
    """GetLog (2.x, and the 1.6 security extension): it names its file and uploads it,
    reporting by LogStatusNotification with the request's id."""
    name = f"{payload['logType'].lower()}-{state.station_id}.log"
    request = {"requestId": payload["requestId"]}
    state.triggered.append(("LogStatusNotification", {"status": "Uploading"} | request))
    log_upload(state, payload["log"]["remoteLocation"], name, lambda uploaded: [(
        "LogStatusNotification", {"status": "Uploaded" if uploaded else "UploadFailure"}
        | request)])
    return {"status": "Accepted", "filename": name}
