"""Rows of messages delivered again, which may have been stored already (the insert
succeeded, the ack was lost): they are looked up by the table's key (station, time) and
the message's sequence, and only those of messages not stored yet are inserted."""
import asyncio
from collections.abc import Callable

# The store's lookup: (the rows' stations, first and last time in Unix milliseconds,
# the messages' sequences) -> the sequences already stored.
Lookup = Callable[[list[str], int, int, list[int]], set[int]]


async def add_unstored(into: dict[str, list], candidates: dict[str, list], lookup: Lookup,
                       station: str, time: str) -> None:
    """Appends to ``into`` the rows of ``candidates`` (the same columns, ``station``
    and ``time`` among them) whose message is not stored yet."""
    sequences = candidates["stream_seq"]
    if not sequences:
        return
    times = candidates[time]
    stored = await asyncio.to_thread(lookup, candidates[station], min(times), max(times),
                                     sorted(set(sequences)))
    keep = [index for index, sequence in enumerate(sequences) if sequence not in stored]
    for name, column in into.items():
        candidate = candidates[name]
        column.extend(candidate[index] for index in keep)
