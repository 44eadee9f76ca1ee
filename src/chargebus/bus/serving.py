"""Subscriptions whose messages are each handled in a task of their own: a
subscription's callbacks run one after another, so a handler that awaits (the bus, a
hasher process) would otherwise hold up every message behind it."""
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

MessageHandler = Callable[[Msg], Coroutine[Any, Any, None]]


class TaskPerMessage:
    """At most ``concurrency`` messages handled at a time, the next one not taken from
    the subscription until one is done (None: no bound, where the handler bounds its
    own work); stop() lets those under way finish."""

    def __init__(self, nc: Client, concurrency: int | None = None):
        self._nc = nc
        self._slots = asyncio.Semaphore(concurrency) if concurrency is not None else None
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscriptions: list[Subscription] = []

    async def subscribe(self, subject: str, queue: str, handle: MessageHandler) -> None:
        async def on_message(msg: Msg) -> None:
            if self._slots is not None:
                await self._slots.acquire()
            task = asyncio.create_task(handle(msg))
            self._tasks.add(task)
            task.add_done_callback(self._finished)

        self._subscriptions.append(await self._nc.subscribe(subject, queue=queue,
                                                            cb=on_message))

    def _finished(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if self._slots is not None:
            self._slots.release()

    async def stop(self) -> None:
        """Take no new messages; finish the ones under way."""
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
