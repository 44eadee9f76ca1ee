"""Which edges are running, and how they admit stations: the contract between an edge
and whoever asks.

Each edge answers two requests with an ``EdgeAbout`` as JSON:
    subjects.edge_about(node_id)   this node id's edge only: an edge that is starting
                                   asks it, to refuse a node id another process holds
    subjects.edges_about()         every edge: the CLI gathers the answers for a moment
An edge that is not running answers nothing; NATS says at once that no one listens.
"""
import asyncio
from dataclasses import asdict, dataclass

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from chargebus.bus import subjects
from chargebus.security.passwords import checked_in_profile

# A node id's edge answers within this, or is taken as gone.
PROBE_SECONDS = 2.0
# The answers of every edge are gathered this long.
GATHER_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class EdgeAbout:
    node_id: str
    run_id: str  # one run of the process: a restarted edge has another
    security_profile: int
    url: str  # where stations connect, up to the prefix

    @property
    def checks_passwords(self) -> bool:
        return checked_in_profile(self.security_profile)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, data: bytes) -> "EdgeAbout":
        return cls(**orjson.loads(data))


async def running_edge(nc: Client, node_id: str) -> EdgeAbout | None:
    """The edge running under ``node_id``, if a process holds it."""
    try:
        reply = await nc.request(subjects.edge_about(node_id), b"", timeout=PROBE_SECONDS)
    except (NoRespondersError, NatsTimeoutError):
        return None
    return EdgeAbout.decode(reply.data)


async def running_edges(nc: Client) -> list[EdgeAbout]:
    """Every edge that answers within GATHER_SECONDS, by node id."""
    answers: list[EdgeAbout] = []

    async def collect(msg: Msg) -> None:
        answers.append(EdgeAbout.decode(msg.data))

    inbox = nc.new_inbox()
    subscription = await nc.subscribe(inbox, cb=collect)
    try:
        await nc.publish(subjects.edges_about(), b"", reply=inbox)
        await asyncio.sleep(GATHER_SECONDS)
    finally:
        await subscription.unsubscribe()
    return sorted(answers, key=lambda about: about.node_id)
