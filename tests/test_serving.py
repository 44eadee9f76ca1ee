"""Messages handled each in a task of its own (chargebus.bus.serving), on a real NATS:
the worker responders bound how many are under way, the password checks do not."""
import asyncio
import secrets

from conftest import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg

from chargebus.bus.serving import TaskPerMessage

MESSAGES = 6


async def _handled_at_most_at_once(nc: Client, concurrency: int | None) -> tuple[int, list[bytes]]:
    """How many messages were under way at once, at the most, and those handled, when
    every handler waits until the first ``concurrency`` (or all) are under way."""
    subject = f"test.serving.{secrets.token_hex(4)}"
    under_way: list[bytes] = []
    handled: list[bytes] = []
    most = 0
    go = asyncio.Event()

    async def handle(msg: Msg) -> None:
        nonlocal most
        under_way.append(msg.data)
        most = max(most, len(under_way))
        await go.wait()
        under_way.remove(msg.data)
        handled.append(msg.data)

    serving = TaskPerMessage(nc, concurrency)
    await serving.subscribe(subject, "test", handle)
    for number in range(MESSAGES):
        await nc.publish(subject, str(number).encode())
    await nc.flush()

    async def all_that_may_are_under_way() -> bool:
        return len(under_way) == (concurrency or MESSAGES)

    assert await eventually(all_that_may_are_under_way)
    go.set()

    async def all_handled() -> bool:
        return len(handled) == MESSAGES

    assert await eventually(all_handled)
    await serving.stop()
    return most, handled


async def test_a_bound_holds_the_rest_back_until_one_is_done(bus: Client) -> None:
    most, handled = await _handled_at_most_at_once(bus, 2)
    assert most == 2
    assert sorted(handled) == [str(number).encode() for number in range(MESSAGES)]


async def test_without_a_bound_every_message_is_under_way_at_once(bus: Client) -> None:
    most, handled = await _handled_at_most_at_once(bus, None)
    assert most == MESSAGES
    assert sorted(handled) == [str(number).encode() for number in range(MESSAGES)]


async def test_stop_lets_the_messages_under_way_finish(bus: Client) -> None:
    subject = f"test.serving.{secrets.token_hex(4)}"
    started = asyncio.Event()
    finish = asyncio.Event()
    stopped_before_finishing: list[bool] = []
    stopping: asyncio.Task[None] | None = None

    async def handle(msg: Msg) -> None:
        started.set()
        await finish.wait()
        stopped_before_finishing.append(stopping is not None and stopping.done())

    serving = TaskPerMessage(bus, 4)
    await serving.subscribe(subject, "test", handle)
    await bus.publish(subject, b"under way")
    await bus.flush()
    await asyncio.wait_for(started.wait(), 30)
    stopping = asyncio.create_task(serving.stop())
    await asyncio.sleep(0.2)  # time enough for a stop that does not wait to be over
    finish.set()
    await stopping
    assert stopped_before_finishing == [False]
