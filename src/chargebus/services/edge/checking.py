"""The edge's password checks, asked of the workers (chargebus.security.password_check): the
edge may not read the hashes. The checks under way are bounded, so that a flood of
guesses is answered "busy" at the edge instead of queueing requests without end.
"""
from nats.aio.client import Client

from chargebus.security import password_check
from chargebus.security.password_check import Verdict
from chargebus.services.edge.metrics import EdgeMetrics


class ChecksBusy(Exception):
    """More checks are under way than the edge takes."""


class PasswordChecks:
    def __init__(self, nc: Client, most: int, timeout: float, metrics: EdgeMetrics):
        self._nc = nc
        self._most = most
        self._timeout = timeout
        self._metrics = metrics
        self._under_way = 0

    async def verify(self, station_id: str, user: str, password: str) -> Verdict:
        """The workers' verdict; ChecksBusy at once when too many checks are under way."""
        if self._under_way >= self._most:
            raise ChecksBusy()
        self._under_way += 1
        self._metrics.password_checks_under_way.inc()
        try:
            verdict = await password_check.ask(self._nc, station_id, user, password,
                                               self._timeout)
        finally:
            self._under_way -= 1
            self._metrics.password_checks_under_way.dec()
        if verdict in (Verdict.RIGHT, Verdict.WRONG):
            self._metrics.password_check(verdict is Verdict.RIGHT)
        return verdict
