"""The edge's WebSocket server: who may connect, in which OCPP version, over what."""
import asyncio
import functools
import itertools
import logging
import secrets
import ssl
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from picows import (WSCloseCode, WSUpgradeRequest, WSUpgradeResponse,
                    WSUpgradeResponseWithListener)

from chargebus.bus.client import BusClient
from chargebus.ocpp import OcppVersion
from chargebus.runtime.config import Settings
from chargebus.runtime.service import Stop
from chargebus.services.edge.acceptor import Acceptor, websocket_server_protocol
from chargebus.services.edge.access import Gate, Refusal
from chargebus.services.edge.attempts import FailedAttempts, GuessingLimits
from chargebus.services.edge.callrate import CallRate
from chargebus.services.edge.checking import PasswordChecks
from chargebus.services.edge.connection import StationConnection
from chargebus.services.edge.dispatcher import Dispatcher
from chargebus.services.edge.handshake import CheckedHandshake
from chargebus.services.edge.identity import Identity, NodeIdTaken
from chargebus.services.edge.heard import LastHeardRecorder
from chargebus.services.edge.liveness import Liveness
from chargebus.services.edge.metrics import EdgeMetrics
from chargebus.services.edge.requesthead import RequestHead
from chargebus.services.edge.stations import Stations
from chargebus.services.edge.turnover import Turnover
from chargebus.state.admission import AdmissionDirectory
from chargebus.state.edges import EdgeAbout
from chargebus.state.identifiers import InvalidIdentifier, check_station_id
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)

# A short backlog makes a reconnect storm wait on refused connections' retries
# (benchmarks/README.md).
LISTEN_BACKLOG = 4096
HANDSHAKE_TIMEOUT = 10.0
# picows allocates this per socket up front and grows it for larger messages; most
# OCPP messages are far below 2 KiB, and the default of 16 KiB is held by every station.
READ_BUFFER_BYTES = 2048
# Stations may answer a close slowly; a drain waits this long for all of them.
DRAIN_CLOSE_SECONDS = 10.0
# The verdict where no password check was made (see CheckedHandshake).
UNCHECKED = Refusal(HTTPStatus.INTERNAL_SERVER_ERROR, "check_failed",
                    "the edge could not check the credentials")
# RFC 6455's version; picows would upgrade drafts 7 and 8 as well.
WEBSOCKET_VERSION = "13"


class Edge:
    """The edge server; to each of its connections, their EdgeContext."""

    def __init__(self, settings: Settings, nc: BusClient):
        self.nc = nc
        self.node_id = settings.edge_node_id
        self.max_message_size = settings.edge_max_message_size
        self.call_rate = (CallRate(settings.edge_station_calls_per_second,
                                   settings.edge_station_call_burst)
                          if settings.edge_station_calls_per_second else None)
        self.metrics = EdgeMetrics()
        self.stations = Stations(nc, settings.edge_node_id, settings.edge_offline_grace_seconds)
        self.dispatcher = Dispatcher(nc, settings, self.metrics, self.stations.all)
        self.turnover = Turnover(lambda: len(self.stations))
        self.liveness = Liveness(self.stations, settings.edge_idle_seconds,
                                 settings.edge_pong_seconds)
        self.heard = LastHeardRecorder(self.stations.all, Stores(nc.jetstream()),
                                       settings.edge_heard_refresh_seconds)
        self._settings = settings
        self._prefix = settings.edge_path_prefix
        self._preference = [OcppVersion(name) for name in settings.edge_subprotocols]
        self._directory = AdmissionDirectory(nc)
        self._gate = Gate(self._directory, settings.edge_security_profile,
                          settings.unknown_stations, FailedAttempts(GuessingLimits.of(settings)),
                          PasswordChecks(nc, settings.edge_password_queue,
                                         settings.edge_password_check_timeout_seconds,
                                         self.metrics),
                          self.metrics)
        self._acceptor: Acceptor | None = None
        # Connection ids: this edge, this run of it, a count. Unique across edges and
        # restarts without a uuid4 per socket (a getrandom call each, in a storm).
        self._run_id = secrets.token_hex(6)
        self._connections_made = itertools.count(1)
        self._identity = Identity(nc, EdgeAbout(
            node_id=self.node_id, run_id=self._run_id,
            security_profile=settings.edge_security_profile, url=settings.stations_url))

    def new_connection_id(self) -> str:
        return f"{self.node_id}.{self._run_id}.{next(self._connections_made)}"

    async def start(self) -> None:
        s = self._settings
        tls = _tls_context(s)  # first: what it refuses stops the edge before it starts
        try:
            await self._identity.claim()
        except NodeIdTaken as error:
            raise SystemExit(f"edge: {error}") from None
        await self._directory.start()
        await self.stations.start()
        if tls is not None:
            self.metrics.track_tls(tls)
        websocket = functools.partial(
            websocket_server_protocol,
            # Not a Logger: picows makes a child Logger per socket of a Logger it is
            # given (about 0.6 KiB each, for the socket's life).
            logger=logging.LoggerAdapter(logging.getLogger("picows.server"), {}),
            handshake_timeout=HANDSHAKE_TIMEOUT,
            max_frame_size=s.edge_max_message_size,
            read_buffer_size=READ_BUFFER_BYTES, refused=self.metrics.refused)
        protocol = (self._checked_handshakes(websocket) if self._gate.checks_passwords
                    else websocket(self._accept))
        self._acceptor = Acceptor(protocol, tls=tls, tls_handshake_timeout=HANDSHAKE_TIMEOUT,
                                  refused=self.metrics.refused)
        try:
            await self._acceptor.listen(s.edge_host, s.edge_port, LISTEN_BACKLOG)
        except OSError as error:
            raise SystemExit(f"edge: {error}") from None
        self.liveness.start()
        self.heard.start()
        self.turnover.start()
        if s.edge_metrics_port:
            self.metrics.serve(s.edge_metrics_host, s.edge_metrics_port)
        log.info("stations connect to %s<stationId> (%s; security profile %d)",
                 s.stations_url, ", ".join(s.edge_subprotocols), s.edge_security_profile)

    async def stop(self) -> None:
        """Drain: stop accepting, answer what is under way, then close every socket
        with 1001 so that stations reconnect (to another edge, where there is one)."""
        if self._acceptor is not None:
            self._acceptor.close()
        self.liveness.stop()
        self.heard.stop()
        closing = [connection.close(WSCloseCode.GOING_AWAY, "edge shutting down")
                   for connection in self.stations.all()]
        if closing:
            await asyncio.wait([asyncio.ensure_future(c) for c in closing],
                               timeout=DRAIN_CLOSE_SECONDS)
        await self.stations.stop()
        self.turnover.stop()
        await self._directory.stop()
        self.metrics.stop()
        await self._identity.release()

    def connected(self, connection: StationConnection) -> None:
        if not self._gate.certificate_matches(
                connection.station_id, connection.peer_certificate()):
            self.metrics.refused("certificate_name")
            log.info("refused %s: its certificate names another station", connection.station_id)
            connection.replace("the client certificate does not name this station")
            return
        if self._gate.profile == 3:
            connection.certificate = connection.peer_certificate_facts()
        previous = self.stations.get(connection.station_id)
        if previous is not None:
            connection.recent.adopt(previous.recent)
            self.metrics.disconnected(previous.version)
        self.stations.add(connection)
        if self.dispatcher.window.paused:
            connection.pause_reading()
        self.metrics.connected(connection.version)
        self.turnover.came += 1
        log.debug("%s connected (%s)", connection.station_id, connection.version.value)

    def disconnected(self, connection: StationConnection) -> None:
        if self.stations.get(connection.station_id) is connection:
            self.metrics.disconnected(connection.version)
        self.stations.remove(connection)
        self.turnover.went += 1
        log.debug("%s disconnected", connection.station_id)

    def _checked_handshakes(self, websocket: Callable) -> Callable[[], RequestHead]:
        """Profiles 1 and 2: each socket's head read by a RequestHead, checked by a
        CheckedHandshake, then, unless refused, upgraded by picows (behind a RequestHead
        of its own, which finds the head complete)."""
        def answer(verdict: Refusal | None) -> bytes | RequestHead:
            if verdict is None or verdict is UNCHECKED:
                return websocket(functools.partial(self._accept_checked, verdict=verdict))()
            # Written as picows writes a refusal, without a picows protocol made for it.
            response = self._refuse(verdict).response
            response.headers["Connection"] = "close"
            return bytes(response.to_bytes())

        def checked() -> CheckedHandshake:
            return CheckedHandshake(self._authenticate, answer, UNCHECKED)
        return lambda: RequestHead(checked, HANDSHAKE_TIMEOUT, self.metrics.refused)

    def _accept(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener:
        """Profiles 0 and 3: nothing to check before the upgrade but the id."""
        station_id = self._station_of(request)
        if isinstance(station_id, Refusal):
            return self._refuse(station_id)
        return self._upgrade(station_id, request, self._gate.admit(station_id))

    async def _authenticate(self, request: WSUpgradeRequest, address: str) -> Refusal | None:
        """Profiles 1 and 2: the verdict on the request's credentials (None: go on to
        the upgrade), for CheckedHandshake."""
        station_id = self._station_of(request)
        if isinstance(station_id, Refusal):
            return station_id
        return await self._gate.authenticate(
            station_id, request.headers.get("Authorization"), address)

    def _accept_checked(self, request: WSUpgradeRequest,
                        verdict: Refusal | None) -> WSUpgradeResponseWithListener:
        station_id = self._station_of(request)
        if isinstance(station_id, Refusal):
            return self._refuse(station_id)
        return self._upgrade(station_id, request, verdict)

    def _station_of(self, request: WSUpgradeRequest) -> str | Refusal:
        """The station a request is for, or what refuses it before any credentials."""
        if request.headers.get("Sec-WebSocket-Version") != WEBSOCKET_VERSION:
            return Refusal(  # RFC 6455 4.2.2, with the Upgrade a 426 must carry
                HTTPStatus.UPGRADE_REQUIRED, "websocket_version",
                f"this server speaks WebSocket version {WEBSOCKET_VERSION} only",
                headers=(("Upgrade", "websocket"),
                         ("Sec-WebSocket-Version", WEBSOCKET_VERSION)))
        path = urlsplit(request.path.decode("latin-1")).path
        if not path.startswith(self._prefix):
            return Refusal(HTTPStatus.NOT_FOUND, "bad_path",
                           f"stations connect at {self._prefix}<stationId>")
        try:
            return check_station_id(unquote(path[len(self._prefix):]))
        except InvalidIdentifier as error:
            return Refusal(HTTPStatus.BAD_REQUEST, "bad_station_id", str(error))

    def _upgrade(self, station_id: str, request: WSUpgradeRequest,
                 refusal: Refusal | None) -> WSUpgradeResponseWithListener:
        if refusal is not None:
            return self._refuse(refusal)
        offered = [name.strip() for header in request.headers.getall("Sec-WebSocket-Protocol", [])
                   for name in header.split(",")]
        allowed = self._gate.allowed_versions(station_id)
        version = next((choice for choice in self._preference
                        if choice.value in offered and (allowed is None or choice in allowed)),
                       None)
        if version is None:
            speaks = [v.value for v in self._preference if allowed is None or v in allowed]
            return self._refuse(Refusal(
                HTTPStatus.BAD_REQUEST, "no_subprotocol",
                "no common OCPP subprotocol: this CSMS speaks " + ", ".join(speaks)
                + f" with {station_id}"))
        response = WSUpgradeResponse.create_101_response(
            extra_headers={"Sec-WebSocket-Protocol": version.value})
        return WSUpgradeResponseWithListener(response, StationConnection(station_id, version, self))

    def _refuse(self, refusal: Refusal) -> WSUpgradeResponseWithListener:
        self.metrics.refused(refusal.reason)
        log.info("refused a connection: %d %s", refusal.status, refusal.message)
        headers = {"Content-Type": "text/plain; charset=utf-8"} | dict(refusal.headers)
        if refusal.status == HTTPStatus.UNAUTHORIZED:
            headers["WWW-Authenticate"] = 'Basic realm="chargebus", charset="UTF-8"'
        if refusal.retry_after is not None:
            headers["Retry-After"] = str(refusal.retry_after)
        return WSUpgradeResponseWithListener(
            WSUpgradeResponse.create_error_response(
                refusal.status, (refusal.message + "\n").encode(), extra_headers=headers),
            None)


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.edge_security_profile < 2:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # OCPP security: TLS 1.2 or later
    # Settings refuses profile 2 or 3 without them, and gives profile 3 a clients' CA.
    assert settings.edge_tls_certificate is not None
    context.load_cert_chain(settings.edge_tls_certificate, settings.edge_tls_key)
    if settings.client_ca is not None:
        # chargebus's own CA unless one is given: made by the supervisor or the workers,
        # never here, where its key would serve nothing.
        if not settings.client_ca.exists():
            raise SystemExit(f"edge: no clients' CA at {settings.client_ca} (chargebus's own "
                             "CA: start the workers or `chargebus run` first, or give "
                             "CHARGEBUS_EDGE_TLS_CLIENT_CA)")
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(settings.client_ca)
    return context


async def start_edge(settings: Settings, nc: BusClient) -> Stop:
    edge = Edge(settings, nc)
    await edge.start()
    return edge.stop
