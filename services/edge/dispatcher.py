"""Decides what answers a station's call, and gets the answer over the bus."""
import orjson
from nats.aio.client import Client

from chargebus import subjects
from chargebus.clock import ocpp_timestamp
from chargebus.config import Settings
from chargebus.events import CallContext
from chargebus.protocol import Fault, OcppError
from chargebus.routing import Route, route_of
from chargebus.rpc import ask_worker


class Dispatcher:
    def __init__(self, nc: Client, settings: Settings):
        self._nc = nc
        self._js = nc.jetstream()
        self._worker_timeout = settings.worker_request_timeout

    async def answer(self, context: CallContext, payload: dict) -> dict:
        """The answer to a call whose action and payload the codec has validated."""
        route = route_of(context.version, context.action)
        if route is None:
            raise OcppError(Fault.NOT_SUPPORTED, f"{context.action} is not supported by this CSMS")
        if route is Route.EDGE:
            return self._answer_here(context)
        if Route.RECORD in route:
            await self._record(context, payload)
        if Route.WORKER in route:
            return await ask_worker(self._nc, context, payload, self._worker_timeout)
        return {}

    def _answer_here(self, context: CallContext) -> dict:
        if context.action == "Heartbeat":
            return {"currentTime": ocpp_timestamp()}
        raise OcppError(Fault.INTERNAL, f"the edge has no answer for {context.action}")

    async def _record(self, context: CallContext, payload: dict) -> None:
        """Keep the call in the OCPP stream; only JetStream's ack lets the edge answer."""
        body = orjson.dumps(payload)
        try:
            await self._js.publish(
                subjects.station_event(context.station_id, context.action),
                body,
                headers=context.record_headers(body),
                timeout=self._worker_timeout,
            )
        except Exception as error:
            raise OcppError(Fault.INTERNAL,
                            f"the call could not be stored, send it again ({type(error).__name__})"
                            ) from None
