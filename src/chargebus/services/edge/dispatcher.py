"""Decides what answers a station's call, and gets the answer over the bus."""
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

import orjson
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from chargebus.bus import events, subjects
from chargebus.bus.client import BusClient
from chargebus.bus.events import CallContext
from chargebus.bus.rpc import ask_worker
from chargebus.ocpp import Fault, OcppError, codec
from chargebus.ocpp.clock import ocpp_timestamp
from chargebus.runtime.config import Settings
from chargebus.services.edge.metrics import EdgeMetrics
from chargebus.services.edge.routing import FIXED_ANSWERS, Route, route_of

log = logging.getLogger(__name__)

# The DataTransfer status for a vendorId no integration serves, and for an integration
# that did not answer in time or answered what the version does not allow.
UNKNOWN_VENDOR = "UnknownVendorId"
NOT_ANSWERED = "Rejected"


class Pausable(Protocol):
    """A station's socket, as the window sees it."""

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class PublishWindow:
    """At most ``size`` JetStream publishes await their ack. When the window is full,
    no station's socket is read until half of it is free again: a slow bus slows the
    stations down (TCP holds what they send) instead of the edge dropping or piling up."""

    def __init__(self, size: int, connections: Callable[[], Iterable[Pausable]],
                 metrics: EdgeMetrics):
        self._size = size
        self._connections = connections  # the sockets of this edge, as they are now
        self._metrics = metrics
        self._open = 0
        self._paused_at: float | None = None

    def __enter__(self) -> "PublishWindow":
        self._open += 1
        if self._open >= self._size and self._paused_at is None:
            self._paused_at = time.monotonic()
            for connection in self._connections():
                connection.pause_reading()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._open -= 1
        if self._paused_at is not None and self._open <= self._size // 2:
            self._metrics.backpressure.inc(time.monotonic() - self._paused_at)
            self._paused_at = None
            for connection in self._connections():
                connection.resume_reading()

    @property
    def paused(self) -> bool:
        return self._paused_at is not None


class Dispatcher:
    def __init__(self, nc: BusClient, settings: Settings, metrics: EdgeMetrics,
                 connections: Callable[[], Iterable[Pausable]]):
        self._nc = nc
        self._js = nc.jetstream()
        self._worker_timeout = settings.worker_request_timeout
        self._vendor_timeout = settings.data_transfer_timeout_seconds
        self._metrics = metrics
        self.window = PublishWindow(settings.edge_publish_window, connections, metrics)

    async def answer(self, context: CallContext, payload_json: bytes) -> dict:
        """The answer to a call whose action and payload the codec has validated. The
        payload goes on as JSON text, as the station sent it: the edge never needs it
        as Python objects."""
        route = route_of(context.version, context.action)
        if route is None:
            raise OcppError(Fault.NOT_SUPPORTED, f"{context.action} is not supported by this CSMS")
        if route is Route.EDGE:
            return self._answer_here(context)
        # mypy narrows a Flag past `is` as if its members were all its values.
        answer = self._answer_here(context) if Route.EDGE in route else None  # type: ignore[operator]
        if Route.VENDOR in route:
            answer = await self._ask_vendor(context, payload_json)
        if Route.WORKER in route:
            with self._metrics.timer("worker"):
                answer = await ask_worker(self._nc, context, payload_json,
                                          self._worker_timeout)
        if Route.RECORD in route:
            # Recorded with the answer: what the consumers apply is what the station got.
            await self._record(context, payload_json,
                               orjson.dumps(answer) if answer is not None else None)
        return answer if answer is not None else {}

    def _answer_here(self, context: CallContext) -> dict:
        if context.action == "Heartbeat":
            return {"currentTime": ocpp_timestamp()}
        fixed = FIXED_ANSWERS.get(context.action)
        if fixed is not None:
            return dict(fixed)
        raise OcppError(Fault.INTERNAL, f"the edge has no answer for {context.action}")

    async def _ask_vendor(self, context: CallContext, payload_json: bytes) -> dict:
        """A DataTransfer's answer from the integration of its vendor id."""
        vendor_id = orjson.loads(payload_json)["vendorId"]
        try:
            reply = await self._nc.request(
                subjects.vendor_data(vendor_id), payload_json, timeout=self._vendor_timeout,
                headers={events.STATION: context.station_id,
                         events.VERSION: context.version.value})
        except NoRespondersError:
            return {"status": UNKNOWN_VENDOR}
        except NatsTimeoutError:
            log.warning("DataTransfer of %s from %s: its integration did not answer in "
                        "%g s", vendor_id, context.station_id, self._vendor_timeout)
            return {"status": NOT_ANSWERED}
        try:
            answer = orjson.loads(reply.data)
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
            codec.check_result(codec.dialect_of(context.version), "DataTransfer", answer)
        except (ValueError, codec.BrokenFrame) as error:
            log.warning("DataTransfer of %s from %s: its integration's answer is no "
                        "DataTransfer answer of %s: %s", vendor_id, context.station_id,
                        context.version.value, getattr(error, "description", error))
            return {"status": NOT_ANSWERED}
        return answer

    async def _record(self, context: CallContext, body: bytes, answer: bytes | None) -> None:
        """Keep the call in the OCPP stream; only JetStream's ack lets the edge answer."""
        try:
            with self.window, self._metrics.timer("record"):
                await self._js.publish(
                    subjects.station_event(context.station_id, context.action),
                    body,
                    headers=context.record_headers(body, answer),
                    timeout=self._worker_timeout,
                )
        except Exception as error:
            raise OcppError(Fault.INTERNAL,
                            f"the call could not be stored, send it again ({type(error).__name__})"
                            ) from None
