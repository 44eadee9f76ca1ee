"""This edge's node id: refused when another running process holds it, then answered
for (chargebus.state.edges), so that the CLI and other edges can tell it runs.

Two edges under one node id would each take the other's stations for a crash's
leftovers and mark them offline while their sockets are open.
"""
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from chargebus.bus import subjects
from chargebus.state.edges import EdgeAbout, running_edge


class NodeIdTaken(Exception):
    pass


class Identity:
    def __init__(self, nc: Client, about: EdgeAbout):
        self._nc = nc
        self._about = about
        self._answer = about.encode()
        self._subscriptions: list[Subscription] = []

    async def claim(self) -> None:
        holder = await running_edge(self._nc, self._about.node_id)
        if holder is not None:
            raise NodeIdTaken(
                f"node id {holder.node_id} is held by a running edge (stations connect to it at "
                f"{holder.url}); give this edge another CHARGEBUS_EDGE_NODE_ID")
        for subject in (subjects.edge_about(self._about.node_id), subjects.edges_about()):
            self._subscriptions.append(await self._nc.subscribe(subject, cb=self._on_request))

    async def release(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    async def _on_request(self, msg: Msg) -> None:
        if msg.reply:
            await self._nc.publish(msg.reply, self._answer)
