"""Work a service does every so often beside its main one (the edge's liveness sweep,
the workers' certificate watch and stale-transaction sweep): the first round one
interval after the start; a round that fails is logged, and the next one comes as usual."""
import asyncio
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(self, seconds: float, work: Callable[[], Awaitable[object]], what: str,
                 log: logging.Logger):
        self._seconds = seconds
        self._work = work
        self._what = what  # for the log, which is the work's own
        self._log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            try:
                await self._work()
            except Exception:
                self._log.exception("%s failed; trying again later", self._what)
