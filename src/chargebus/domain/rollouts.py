"""The rule of a firmware roll-out, free of I/O: which stations get the update next, when
one is done, and when the roll-out pauses.

A roll-out sends the update to at most ``at_most`` stations at a time, in the order they
were selected. A station's update is done when its firmware record says so
(chargebus.domain.firmware: installed, failed, refused), or when the station did not
take the request at all. The roll-out pauses, sending no more, as soon as more than
``pause_share`` of the stations it has sent to failed; an operator resumes it (it then
goes on until the share is exceeded again by a new failure) or cancels it. It is done
when every station is done.
"""
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from chargebus.domain import firmware
from chargebus.state.records import FirmwareUpdate


class RolloutState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class StationState(StrEnum):
    WAITING = "waiting"
    SENT = "sent"
    INSTALLED = "installed"
    FAILED = "failed"


class RolloutStation(BaseModel):
    station_id: str
    state: StationState = StationState.WAITING
    request_id: int | None = None
    sent_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None  # the firmware outcome, or why it was not sent


class Rollout(BaseModel):
    rollout_id: str
    location: str
    image: str | None = None  # a firmware image chargebus holds: a URL per station
    retries: int | None = None
    retry_interval: int | None = None
    signature: str | None = None
    signing_certificate: str | None = None
    at_most: int = Field(ge=1)
    pause_share: float = Field(ge=0, le=1)
    stations: list[RolloutStation]
    state: RolloutState = RolloutState.RUNNING
    # How many failures the operator accepted when resuming: the share counts the rest.
    forgiven: int = 0
    created_by: str
    created_at: datetime
    holder: str | None = None  # the worker driving it now, and until when
    lease_until: datetime | None = None


def counts(rollout: Rollout) -> dict[StationState, int]:
    tally = dict.fromkeys(StationState, 0)
    for station in rollout.stations:
        tally[station.state] += 1
    return tally


def with_outcomes(rollout: Rollout, updates: Callable[[RolloutStation], FirmwareUpdate | None],
                  now: datetime) -> Rollout:
    """The stations sent to whose update has ended, marked installed or failed; the
    roll-out paused where the failures pass the share, done where every station is."""
    stations = []
    for station in rollout.stations:
        if station.state is StationState.SENT:
            update = updates(station)
            if update is not None and firmware.state(update) == firmware.DONE:
                outcome = firmware.outcome(update)
                station = station.model_copy(update={
                    "state": StationState.INSTALLED if outcome == firmware.INSTALLED
                    else StationState.FAILED, "outcome": outcome, "ended_at": now})
        stations.append(station)
    return _judged(rollout.model_copy(update={"stations": stations}))


def next_to_send(rollout: Rollout) -> list[str]:
    """The stations to send to now: as many waiting ones as ``at_most`` leaves room for."""
    if rollout.state is not RolloutState.RUNNING:
        return []
    tally = counts(rollout)
    room = rollout.at_most - tally[StationState.SENT]
    waiting = [station.station_id for station in rollout.stations
               if station.state is StationState.WAITING]
    return waiting[:max(room, 0)]


def with_sent(rollout: Rollout, station_id: str, request_id: int | None, taken: bool,
              why: str | None, now: datetime) -> Rollout:
    """A station the update was sent to: under way, or failed where it did not take it."""
    stations = [station.model_copy(update={
        "state": StationState.SENT if taken else StationState.FAILED,
        "request_id": request_id, "sent_at": now,
        "ended_at": None if taken else now, "outcome": None if taken else why})
        if station.station_id == station_id else station for station in rollout.stations]
    return _judged(rollout.model_copy(update={"stations": stations}))


def resumed(rollout: Rollout) -> Rollout | None:
    """Going on from a pause, the failures so far accepted; None where it is not paused."""
    if rollout.state is not RolloutState.PAUSED:
        return None
    return rollout.model_copy(update={"state": RolloutState.RUNNING,
                                      "forgiven": counts(rollout)[StationState.FAILED]})


def _judged(rollout: Rollout) -> Rollout:
    tally = counts(rollout)
    if tally[StationState.WAITING] == 0 and tally[StationState.SENT] == 0:
        return rollout.model_copy(update={"state": RolloutState.DONE}) \
            if rollout.state is not RolloutState.CANCELLED else rollout
    if rollout.state is not RolloutState.RUNNING:
        return rollout
    failed = tally[StationState.FAILED] - rollout.forgiven
    started = len(rollout.stations) - tally[StationState.WAITING]
    if failed > 0 and started and failed / started > rollout.pause_share:
        return rollout.model_copy(update={"state": RolloutState.PAUSED})
    return rollout
