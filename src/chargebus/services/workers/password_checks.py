"""Password hashes checked in helper processes beside a worker, off its event loop.

A check is scrypt (chargebus.security.passwords), 3 to 4 ms of CPU. When the edge hashed on its
event loop, every guess stalled every station of the edge for that long: 256 guessers
took the others' latency from 0.8 ms to 320 ms. hashlib.scrypt releases the GIL, but a thread that
hashes must take the GIL back after each hash, and the loop then waits for it: with
guessers hashing as fast as they could (benchmarks/password_guessing.py
--no-address-limit), the stations' heartbeats took 33 to 42 ms at p50 with a hashing
thread, 12 to 17 ms with a process. So the hashing is done by processes of their own
(chargebus.services.workers.hasher), fed and read by the loop through pipes, one check
at a time each. The edges may not read the hashes, so those processes stand beside the
workers, which answer the edges' checks (passwords). The checks waiting for a process
are bounded, so a flood of guesses costs
at most those processes' CPU and is answered "busy" past the queue.
"""
import asyncio
import logging
import sys
from collections import deque
from collections.abc import Callable

from chargebus.security.passwords import Match
from chargebus.services.workers import hasher

log = logging.getLogger(__name__)

RESTART_SECONDS = 1.0  # before a hasher that exited is replaced: no spawning in a loop


class ChecksBusy(Exception):
    """More checks are under way than the processes and their queue take, or the
    process of this one died."""


class PasswordChecks:
    def __init__(self, processes: int, queue: int):
        self._count = processes
        self._most = processes + queue
        self._waiting: deque[tuple[bytes, asyncio.Future]] = deque()
        self._idle: list[_Hasher] = []
        self._hashers: list[_Hasher] = []
        self._under_way = 0
        self._stopping = False
        self._restarting: set[asyncio.Task] = set()

    async def start(self) -> None:
        for _ in range(self._count):
            self._add(await _Hasher.start(self._done, self._lost))

    async def stop(self) -> None:
        self._stopping = True
        for restarting in self._restarting:
            restarting.cancel()
        for checker in self._hashers:
            await checker.stop()
        self._hashers.clear()
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()

    async def verify(self, password: str, stored: str, pending: str | None = None) -> Match:
        """Which of ``stored`` and ``pending`` the password is; ChecksBusy at once when
        too many checks are under way."""
        if self._under_way >= self._most:
            raise ChecksBusy()
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((hasher.request(password, stored, pending), future))
        self._under_way += 1
        try:
            self._dispatch()
            return await future
        finally:
            self._under_way -= 1

    def _dispatch(self) -> None:
        while self._idle and self._waiting:
            line, future = self._waiting.popleft()
            if not future.done():  # cancelled: no one waits for it now
                self._idle.pop().send(line, future)

    def _add(self, checker: "_Hasher") -> None:
        self._hashers.append(checker)
        self._done(checker)

    def _done(self, checker: "_Hasher") -> None:
        self._idle.append(checker)
        self._dispatch()

    def _lost(self, checker: "_Hasher") -> None:
        self._hashers.remove(checker)
        if checker in self._idle:
            self._idle.remove(checker)
        if not self._stopping:
            restarting = asyncio.create_task(self._restart())
            self._restarting.add(restarting)
            restarting.add_done_callback(self._restarting.discard)

    async def _restart(self) -> None:
        await asyncio.sleep(RESTART_SECONDS)
        try:
            self._add(await _Hasher.start(self._done, self._lost))
        except OSError as error:
            log.error("cannot start a password hasher: %s", error)
            self._lost_for_good()

    def _lost_for_good(self) -> None:
        if not self._hashers:  # nothing will ever check them
            for _, future in self._waiting:
                if not future.done():
                    future.set_exception(ChecksBusy())
            self._waiting.clear()


class _Hasher:
    """One helper process and the check it is on."""

    def __init__(self, process: asyncio.subprocess.Process, done: Callable[["_Hasher"], None],
                 lost: Callable[["_Hasher"], None]):
        assert process.stdin is not None and process.stdout is not None  # started with pipes
        self._process = process
        self._stdin, self._stdout = process.stdin, process.stdout
        self._done = done
        self._lost = lost
        self._current: asyncio.Future | None = None
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, done: Callable[["_Hasher"], None],
                    lost: Callable[["_Hasher"], None]) -> "_Hasher":
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", hasher.__name__,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return cls(process, done, lost)

    def send(self, line: bytes, future: asyncio.Future) -> None:
        self._current = future
        self._stdin.write(line)

    async def stop(self) -> None:
        self._reading.cancel()
        if self._process.returncode is None:
            self._stdin.close()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._current is not None and not self._current.done():
            self._current.cancel()

    async def _read(self) -> None:
        while True:
            line = await self._stdout.readline()
            current, self._current = self._current, None
            if not line:
                break
            if current is not None and not current.done():
                current.set_result(hasher.answer(line))
            self._done(self)
        await self._process.wait()
        log.error("a password hasher exited (code %s); it is replaced in %g s",
                  self._process.returncode, RESTART_SECONDS)
        if current is not None and not current.done():
            current.set_exception(ChecksBusy())
        self._lost(self)
