"""Password hashes checked in threads, off the edge's event loop.

A check is scrypt (chargebus.passwords), 3 to 4 ms of CPU. On the event loop every
guess stalled every station of the edge for that long: 256 guessers took the others'
latency from 0.8 ms to 320 ms. hashlib.scrypt releases the GIL while OpenSSL hashes
(measured: the loop's thread kept 94% of its pace beside a thread hashing without a
pause, 64% beside one running Python), so a thread hashes while the loop serves
stations. Threads and the checks waiting for them are bounded, so a flood of guesses
costs at most that CPU and is answered "busy" past the queue. The threads keep the
loop's CPU priority: at nice 10 the stations' p99 under guessing was 47 ms against
26 ms (benchmarks/password_guessing.py, a run each), likely a thread preempted while it
held the GIL.
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor

from chargebus.passwords import verify_password
from chargebus_services.edge.metrics import EdgeMetrics


class ChecksBusy(Exception):
    """More checks are under way than the threads and their queue take."""


class PasswordChecks:
    def __init__(self, threads: int, queue: int, metrics: EdgeMetrics):
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="password-check")
        self._most = threads + queue
        self._under_way = 0
        self._metrics = metrics

    @property
    def under_way(self) -> int:
        return self._under_way

    async def verify(self, password: str, stored: str) -> bool:
        """Whether ``password`` is the one ``stored`` hashes; ChecksBusy at once when
        too many checks are under way. A check cancelled while it waits never runs."""
        if self._under_way >= self._most:
            raise ChecksBusy()
        self._under_way += 1
        self._metrics.password_checks_under_way.inc()
        try:
            right = await asyncio.get_running_loop().run_in_executor(
                self._executor, verify_password, password, stored)
        finally:
            self._under_way -= 1
            self._metrics.password_checks_under_way.dec()
        self._metrics.password_check(right)
        return right

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

