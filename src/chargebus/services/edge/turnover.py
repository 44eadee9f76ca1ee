"""How many stations came and went, logged as one line a while rather than a line each.

Each connect and disconnect is logged at DEBUG (the chargebus.services.edge logger):
at INFO, a reconnect storm of 10,000 stations wrote 20,000 lines, a tenth of the
edge's time in it. Which edge holds a station, since when, is in its presence record.
"""
import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("chargebus.services.edge")

REPORT_SECONDS = 10.0


class Turnover:
    def __init__(self, connected_now: Callable[[], int], report_seconds: float = REPORT_SECONDS):
        self._connected_now = connected_now  # () -> how many stations are connected
        self._report_seconds = report_seconds
        self.came = self.went = 0
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._since = loop.time()
        self._timer = loop.call_later(self._report_seconds, self._report)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.report()

    def report(self) -> None:
        if self.came or self.went:
            seconds = asyncio.get_running_loop().time() - self._since
            log.info("%d stations connected (%d came, %d went in the last %.0f s)",
                     self._connected_now(), self.came, self.went, seconds)
            self.came = self.went = 0

    def _report(self) -> None:
        self.report()
        self.start()
