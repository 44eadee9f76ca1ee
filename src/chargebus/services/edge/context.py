"""What a station's connection needs of the edge that holds it, and no more: the Edge
(server.py) is one, and a connection reaches nothing of it that is not named here."""
from typing import TYPE_CHECKING, Protocol

from nats.aio.client import Client

from chargebus.services.edge.callrate import CallRate
from chargebus.services.edge.dispatcher import Dispatcher
from chargebus.services.edge.metrics import EdgeMetrics

if TYPE_CHECKING:  # the connection names this protocol in turn
    from chargebus.services.edge.connection import StationConnection


class EdgeContext(Protocol):
    @property
    def nc(self) -> Client:
        """The bus, for the replies to the CSMS-to-station calls."""

    @property
    def node_id(self) -> str:
        """The edge's node id, in every call's context."""

    @property
    def max_message_size(self) -> int:
        """The longest message a station may send, fragments and all."""

    @property
    def call_rate(self) -> CallRate | None:
        """How fast a station may call; None: as fast as it likes."""

    @property
    def metrics(self) -> EdgeMetrics: ...

    @property
    def dispatcher(self) -> Dispatcher:
        """Gets the answers to the stations' calls."""

    def new_connection_id(self) -> str:
        """An id no other connection of any edge has had."""

    def connected(self, connection: "StationConnection") -> None:
        """The station's WebSocket is open."""

    def disconnected(self, connection: "StationConnection") -> None:
        """The station's WebSocket is gone."""
