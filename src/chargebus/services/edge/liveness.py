"""Pings stations that have gone silent and cuts those that do not answer.

One timer walks every connection of the edge, where picows' own auto-ping runs an
asyncio task per socket: about 1.8 KiB a station, most of what an idle station costs
beyond its socket.
"""
import asyncio
import logging
import time

from picows import WSCloseCode

from chargebus.services.edge.stations import Stations

log = logging.getLogger(__name__)

# How often the connections are looked at, as a share of the shorter timeout: a silent
# station is pinged, and a mute one cut, at most this share of it late.
SWEEP_SHARE = 0.2
LONGEST_SWEEP_SECONDS = 5.0


class Liveness:
    def __init__(self, stations: Stations, idle_seconds: float, pong_seconds: float):
        self._stations = stations
        self._idle = idle_seconds
        self._pong = pong_seconds
        self._every = min(min(idle_seconds, pong_seconds) * SWEEP_SHARE, LONGEST_SWEEP_SECONDS)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        for connection in self._stations.all():
            pinged_at = connection.pinged_at
            if pinged_at is not None:
                if now - pinged_at >= self._pong:
                    log.info("%s did not answer a ping within %g s; closing",
                             connection.station_id, self._pong)
                    connection.hang_up(WSCloseCode.GOING_AWAY,
                                       f"no answer to a ping within {self._pong:g} s")
            elif now - connection.heard_at >= self._idle:
                connection.ping(now)
