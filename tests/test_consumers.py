"""Durable consumers against a real nats-server: batches, acks, redelivery, overlap."""
import asyncio

import pytest
from nats.js.api import StreamConfig

from chargebus.bus.consumers import DurableConsumer


async def _consume(system, name: str, overlap: bool, messages: int = 6,
                   batch_size: int = 2):
    """Publishes ``messages`` into a stream of its own and consumes them in batches of
    ``batch_size``; the first batch's handler waits until a later batch has started or
    a second has passed. Returns the order of the handlers' starts and ends and the
    messages the consumer saw."""
    client = await system.connect()
    js = client.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    for index in range(messages):
        await js.publish(f"{name}.m", b"%d" % index)
    events: list[str] = []
    seen: list[bytes] = []
    later_started = asyncio.Event()

    async def handle(batch):
        number = sum(event.startswith("start") for event in events) + 1
        events.append(f"start {number}")
        seen.extend(msg.data for msg in batch)
        if number == 1:
            try:
                await asyncio.wait_for(later_started.wait(), 1.0)
            except TimeoutError:
                pass
        else:
            later_started.set()
        events.append(f"end {number}")

    consumer = DurableConsumer(client, name, f"{name}-reader", f"{name}.>", handle,
                               batch_size=batch_size, batch_seconds=0.2, overlap=overlap)
    await consumer.start()
    try:
        for _ in range(200):
            if len(seen) >= messages and len(events) % 2 == 0 and events[-1].startswith("end"):
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
    info = await js.consumer_info(name, f"{name}-reader")
    await client.close()
    return events, seen, info


@pytest.mark.parametrize("overlap", [False, True])
def test_batches_are_handled_in_turn_or_overlapping(system, overlap):
    name = f"OVERLAP{int(overlap)}"
    events, seen, info = asyncio.run(_consume(system, name, overlap))
    assert sorted(seen) == [b"%d" % index for index in range(6)]
    assert info.num_ack_pending == 0 and info.num_pending == 0  # every message acked
    if overlap:
        # The second batch started while the first was still being handled, and no
        # third started before the first ended: at most two at once.
        assert events[:3] == ["start 1", "start 2", "end 2"]
        assert events.index("end 1") < events.index("start 3")
    else:
        assert events[:4] == ["start 1", "end 1", "start 2", "end 2"]


def test_a_batch_handled_past_the_ack_wait_is_not_delivered_again(system):
    """A sink's first insert takes seconds (it makes its chdb reader): its batch must not
    go to another consumer meanwhile, which would store the same rows again."""
    async def consume() -> tuple[list[tuple[bytes, int]], object]:
        from chargebus.bus.consumers import delivery

        client = await system.connect()
        js = client.jetstream()
        name = "SLOWBATCH"
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
        for index in range(4):
            await js.publish(f"{name}.m", b"%d" % index)
        handled: list[tuple[bytes, int]] = []
        ack_wait = 1.0

        async def handle(batch):
            handled.extend((msg.data, delivery(msg).times) for msg in batch)
            await asyncio.sleep(ack_wait * 3.5)

        # Two readers of one durable consumer, as two sinks share one.
        readers = [DurableConsumer(client, name, f"{name}-reader", f"{name}.>", handle,
                                   batch_size=4, batch_seconds=0.2, ack_wait=ack_wait)
                   for _ in range(2)]
        for reader in readers:
            await reader.start()
        try:
            for _ in range(200):
                info = await js.consumer_info(name, f"{name}-reader")
                if len(handled) >= 4 and info.num_ack_pending == 0:
                    break
                await asyncio.sleep(0.05)
        finally:
            for reader in readers:
                await reader.stop()
        await client.close()
        return handled, info

    handled, info = asyncio.run(consume())
    assert sorted(handled) == [(b"%d" % index, 1) for index in range(4)]
    assert info.num_redelivered == 0 and info.num_ack_pending == 0
