"""Failed password attempts, counted per station id and per source address.

A station id, known or not (an unknown one is answered as a wrong password is), may fail
a few times in a row; then it waits before each further check, twice as long after each
failure, and at the lockout count it is refused for the lockout, right password or not.
A check of an id already under way makes another attempt wait too, so that guesses sent
at once are counted one after the other.

A source address is never locked out: many stations of a site may share one behind
NAT, and one bad station must not shut the others out. Past a higher count of
refusals, its attempts are held before they are checked or answered (the Gate holds
them), longer with each refusal up to a max, which slows a guesser and bounds the
hashing it costs; a station whose password verified before is never held. IPv6
addresses count by /64, the block one host is usually given.

Records are kept for a bounded number of ids and addresses (unknown ids are counted
too), the least recently failed dropped first.
"""
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

from chargebus.runtime.config import Settings

RECORDS_KEPT = 100_000  # of ids and of addresses each: about 10 MiB at most
_MAX_DOUBLINGS = 30  # 2**30 delays: past any max delay, and no float overflow


@dataclass(frozen=True, slots=True)
class GuessingLimits:
    free_failures: int
    delay_seconds: float
    max_delay_seconds: float
    lockout_failures: int
    lockout_seconds: float
    address_free_failures: int
    address_max_delay_seconds: float
    address_checks: int

    @classmethod
    def of(cls, settings: Settings) -> "GuessingLimits":
        return cls(free_failures=settings.edge_auth_free_failures,
                   delay_seconds=settings.edge_auth_delay_seconds,
                   max_delay_seconds=settings.edge_auth_max_delay_seconds,
                   lockout_failures=settings.edge_auth_lockout_failures,
                   lockout_seconds=settings.edge_auth_lockout_seconds,
                   address_free_failures=settings.edge_auth_address_free_failures,
                   address_max_delay_seconds=settings.edge_auth_address_max_delay_seconds,
                   address_checks=settings.edge_auth_address_checks)


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0  # when the last one was, on the clock of FailedAttempts
    checking: bool = False


class FailedAttempts:
    def __init__(self, limits: GuessingLimits, now: Callable[[], float] = time.monotonic,
                 records_kept: int = RECORDS_KEPT):
        self._limits = limits
        self._now = now
        self._kept = records_kept
        self._stations: dict[str, _Failures] = {}  # least recently failed first
        self._addresses: dict[str, _Failures] = {}

    @property
    def limits(self) -> GuessingLimits:
        return self._limits

    def wait(self, station_id: str) -> float:
        """Seconds before the station's password may be checked; 0: now."""
        record = self._current(station_id)
        if record is None:
            return 0.0
        if record.checking:
            return self._limits.delay_seconds
        limits = self._limits
        if record.count >= limits.lockout_failures:
            return max(0.0, record.last + limits.lockout_seconds - self._now())
        if record.count < limits.free_failures:
            return 0.0
        delay = _doubled(limits.delay_seconds, record.count - limits.free_failures,
                         limits.max_delay_seconds)
        return max(0.0, record.last + delay - self._now())

    def locked_out(self, station_id: str) -> bool:
        record = self._current(station_id)
        return (record is not None and record.count >= self._limits.lockout_failures
                and self.wait(station_id) > 0)

    def failures(self, station_id: str) -> int:
        """Failures in a row that are still remembered."""
        record = self._current(station_id)
        return record.count if record is not None else 0

    def start_check(self, station_id: str) -> None:
        record = self._current(station_id)
        if record is None:
            record = _insert(self._stations, station_id, _Failures(), self._kept)
        record.checking = True

    def end_check(self, station_id: str) -> None:
        record = self._stations.get(station_id)
        if record is not None:
            record.checking = False
            if record.count == 0:
                del self._stations[station_id]

    def failed(self, station_id: str) -> bool:
        """Counts a wrong password (or unknown id); True when this one locks it out."""
        record = self._current(station_id) or _Failures()
        self._stations.pop(station_id, None)
        record.count += 1
        record.last = self._now()
        _insert(self._stations, station_id, record, self._kept)
        return record.count == self._limits.lockout_failures

    def succeeded(self, station_id: str) -> None:
        self._stations.pop(station_id, None)

    def address_delay(self, address: str) -> float:
        """How long an attempt from ``address`` is held, for the refusals it had."""
        record = self._addresses.get(address_key(address))
        if record is None or self._now() - record.last >= self._limits.lockout_seconds:
            return 0.0
        beyond = record.count - self._limits.address_free_failures
        if beyond < 0:
            return 0.0
        return _doubled(self._limits.delay_seconds, beyond,
                        self._limits.address_max_delay_seconds)

    def refused_from(self, address: str) -> None:
        """Counts a refusal of a station at ``address``."""
        key, now = address_key(address), self._now()
        record = self._addresses.pop(key, None)
        if record is None or now - record.last >= self._limits.lockout_seconds:
            record = _Failures()
        record.count += 1
        record.last = now
        _insert(self._addresses, key, record, self._kept)

    def _current(self, station_id: str) -> _Failures | None:
        """The station's record, unless it is to be forgotten by now."""
        record = self._stations.get(station_id)
        if (record is not None and not record.checking
                and self._now() - record.last >= self._limits.lockout_seconds):
            del self._stations[station_id]
            return None
        return record


def _doubled(first: float, doublings: int, most: float) -> float:
    return min(first * 2 ** min(doublings, _MAX_DOUBLINGS), most)


def _insert(records: dict[str, _Failures], key: str, record: _Failures,
            kept: int) -> _Failures:
    if len(records) >= kept:
        for oldest in records:  # least recently failed first; those under way are few
            if not records[oldest].checking:
                del records[oldest]
                break
    records[key] = record
    return record


def address_key(address: str) -> str:
    """What an address is counted as: itself, or its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
