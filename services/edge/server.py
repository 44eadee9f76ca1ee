"""The edge's WebSocket server: who may connect, in which OCPP version."""
import asyncio
import logging
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from nats.aio.client import Client
from picows import (WSCloseCode, WSUpgradeRequest, WSUpgradeResponse,
                    WSUpgradeResponseWithListener, ws_create_server)

from chargebus.config import Settings
from chargebus.identifiers import InvalidIdentifier, check_station_id
from chargebus.protocol import OcppVersion
from chargebus_services.edge.connection import StationConnection
from chargebus_services.edge.dispatcher import Dispatcher

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 4096  # a backlog of 100 made 10k stations take 43 s to connect here
HANDSHAKE_TIMEOUT = 10.0
MAX_FRAME_SIZE = 64 * 1024


class Edge:
    def __init__(self, settings: Settings, nc: Client):
        self.node_id = settings.edge_node_id
        self.dispatcher = Dispatcher(nc, settings)
        self._settings = settings
        self._prefix = settings.edge_path_prefix
        self._preference = [OcppVersion(name) for name in settings.edge_subprotocols]
        self._stations: dict[str, StationConnection] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await ws_create_server(
            self._accept,
            self._settings.edge_host,
            self._settings.edge_port,
            backlog=LISTEN_BACKLOG,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
            max_frame_size=MAX_FRAME_SIZE,
            enable_auto_ping=True,
            auto_ping_idle_timeout=60,
            auto_ping_reply_timeout=30,
        )
        log.info("stations connect to ws://%s:%d%s<stationId> (%s)",
                 self._settings.edge_host, self._settings.edge_port, self._prefix,
                 ", ".join(self._settings.edge_subprotocols))

    async def stop(self) -> None:
        """Stop accepting, answer what is under way, then close every socket with 1001
        so that stations reconnect (to another edge, where there is one)."""
        if self._server is not None:
            self._server.close()
        await asyncio.gather(
            *(connection.close(WSCloseCode.GOING_AWAY, "edge shutting down")
              for connection in list(self._stations.values())),
            return_exceptions=True,
        )

    def connected(self, connection: StationConnection) -> None:
        previous = self._stations.get(connection.station_id)
        self._stations[connection.station_id] = connection
        if previous is not None:
            # The station came back on a new socket; the old one is half-open at best.
            asyncio.create_task(previous.close(WSCloseCode.POLICY_VIOLATION,
                                               "replaced by a newer connection"))
        log.info("%s connected (%s)", connection.station_id, connection.version.value)

    def disconnected(self, connection: StationConnection) -> None:
        if self._stations.get(connection.station_id) is connection:
            del self._stations[connection.station_id]
        log.info("%s disconnected", connection.station_id)

    def _accept(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        path = urlsplit(request.path.decode("latin-1")).path
        if not path.startswith(self._prefix):
            return _refuse(HTTPStatus.NOT_FOUND, f"stations connect at {self._prefix}<stationId>")
        try:
            station_id = check_station_id(unquote(path[len(self._prefix):]))
        except InvalidIdentifier as error:
            return _refuse(HTTPStatus.BAD_REQUEST, str(error))
        offered = [name.strip() for header in request.headers.getall("Sec-WebSocket-Protocol", [])
                   for name in header.split(",")]
        version = next((choice for choice in self._preference if choice.value in offered), None)
        if version is None:
            return _refuse(HTTPStatus.BAD_REQUEST,
                           "no common OCPP subprotocol: this CSMS speaks "
                           + ", ".join(self._settings.edge_subprotocols))
        response = WSUpgradeResponse.create_101_response(
            extra_headers={"Sec-WebSocket-Protocol": version.value})
        return WSUpgradeResponseWithListener(response, StationConnection(station_id, version, self))


def _refuse(status: HTTPStatus, reason: str) -> WSUpgradeResponseWithListener:
    log.info("refused a connection: %d %s", status, reason)
    body = (reason + "\n").encode()
    return WSUpgradeResponseWithListener(
        WSUpgradeResponse.create_error_response(
            status, body, extra_headers={"Content-Type": "text/plain; charset=utf-8"}),
        None)


async def start_edge(settings: Settings, nc: Client):
    edge = Edge(settings, nc)
    await edge.start()
    return edge.stop
