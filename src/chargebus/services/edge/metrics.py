"""What an edge counts, for Prometheus: one registry per edge, served over HTTP.

Label values are bounded: versions, actions the codec already checked against the
version's schemas, CALLERROR codes, and the fixed reasons of chargebus itself.
"""
import ssl
from wsgiref.simple_server import WSGIServer
from collections.abc import Iterator
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.context_managers import Timer
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase

from chargebus.ocpp import Fault, OcppVersion, error_code
from chargebus.operations.commands import Outcome

BUS_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                       5, 10)


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge("chargebus_edge_connections", "Connected stations",
                                 ["version"], registry=self.registry)
        self.frames_in = Counter("chargebus_edge_frames_in", "Messages received from stations",
                                 ["version", "action"], registry=self.registry)
        self.frames_out = Counter("chargebus_edge_frames_out", "Messages sent to stations",
                                  ["version", "action"], registry=self.registry)
        self.call_errors = Counter("chargebus_edge_callerrors", "CALLERRORs sent to stations",
                                   ["version", "code"], registry=self.registry)
        self.refusals = Counter("chargebus_edge_refused",
                                "Connections refused, by reason (auth failures among them)",
                                ["reason"], registry=self.registry)
        self.password_checks = Counter("chargebus_edge_password_checks",
                                       "Passwords checked by the workers, by result",
                                       ["result"], registry=self.registry)
        self.password_checks_under_way = Gauge("chargebus_edge_password_checks_under_way",
                                               "Password checks asked of the workers, "
                                               "not yet answered",
                                               registry=self.registry)
        self.auth_lockouts = Counter("chargebus_edge_auth_lockouts",
                                     "Station ids locked out after failed passwords",
                                     registry=self.registry)
        self.auth_held = Counter("chargebus_edge_auth_held",
                                 "Attempts held back: their source address failed too often",
                                 registry=self.registry)
        self.bus_latency = Histogram("chargebus_edge_bus_latency_seconds",
                                     "Time the bus took: JetStream ack or worker reply",
                                     ["kind"], buckets=BUS_LATENCY_BUCKETS,
                                     registry=self.registry)
        self.backpressure = Counter("chargebus_edge_backpressure_seconds",
                                    "Time reading from stations was paused for a slow bus",
                                    registry=self.registry)
        self.throttled = Counter("chargebus_edge_throttled_seconds",
                                 "Time stations' sockets were not read for calling faster "
                                 "than their rate, summed over stations",
                                 registry=self.registry)
        self.commands = Counter("chargebus_edge_commands", "CSMS-to-station calls, by outcome",
                                ["outcome"], registry=self.registry)
        self._server: WSGIServer | None = None
        self._connections = _Children(self.connections)
        self._frames_in = _Children(self.frames_in)
        self._frames_out = _Children(self.frames_out)
        self._bus_latency = _Children(self.bus_latency)

    def track_tls(self, context: ssl.SSLContext) -> None:
        self.registry.register(_TlsHandshakes(context))

    def serve(self, host: str, port: int) -> None:
        self._server, _ = start_http_server(port, host, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def connected(self, version: OcppVersion) -> None:
        self._connections(version.value).inc()

    def disconnected(self, version: OcppVersion) -> None:
        self._connections(version.value).dec()

    def frame_in(self, version: OcppVersion, action: str) -> None:
        self._frames_in(version.value, action).inc()

    def frame_out(self, version: OcppVersion, action: str) -> None:
        self._frames_out(version.value, action).inc()

    def call_error(self, version: OcppVersion, fault: Fault) -> None:
        self.call_errors.labels(version.value, error_code(version, fault)).inc()

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    def password_check(self, right: bool) -> None:
        self.password_checks.labels("right" if right else "wrong").inc()

    def command_outcome(self, outcome: Outcome) -> None:
        self.commands.labels(outcome.value).inc()

    def timer(self, kind: str) -> Timer:
        """A context manager that observes the bus latency of one ``kind`` of exchange."""
        return self._bus_latency(kind).time()


Labelled = TypeVar("Labelled", bound=MetricWrapperBase)


class _Children(Generic[Labelled]):
    """A metric's children by label values, looked up once: prometheus_client's
    labels() checks and copies the values on every call, and the edge counts every
    frame it reads and writes (labels() was 4% of its time in a reconnect storm)."""

    __slots__ = ("_metric", "_children")

    def __init__(self, metric: Labelled):
        self._metric = metric
        self._children: dict[tuple[str, ...], Labelled] = {}

    def __call__(self, *values: str) -> Labelled:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class _TlsHandshakes:
    """TLS handshakes as OpenSSL counts them. A refused one (plain ws on a TLS port, a
    certificate of another CA, none where one is required) never reaches the edge's
    code, so the listener's session statistics are where it shows: started but not
    completed (at scrape time that includes the few still under way)."""

    def __init__(self, context: ssl.SSLContext):
        self._context = context

    def collect(self) -> Iterator[Metric]:
        stats = self._context.session_stats()
        family = CounterMetricFamily("chargebus_edge_tls_handshakes",
                                     "TLS handshakes of stations, by result", labels=["result"])
        family.add_metric(["completed"], stats["accept_good"])
        family.add_metric(["unfinished"], max(0, stats["accept"] - stats["accept_good"]))
        yield family
