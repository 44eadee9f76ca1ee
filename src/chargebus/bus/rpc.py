"""The contract between an edge and the workers that answer station calls.

Request: the station's payload as JSON, the CallContext in headers, on
subjects.worker_request(action). Reply: the response payload as JSON; or, to answer
with a CALLERROR, the Fault in the FAULT header and the description as the body.
"""
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import cast

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from chargebus.bus import events, subjects
from chargebus.bus.client import BusClient, BusMsg
from chargebus.bus.events import CallContext
from chargebus.bus.serving import TaskPerMessage
from chargebus.ocpp import Fault, OcppError

log = logging.getLogger(__name__)

Handler = Callable[[CallContext, dict], Awaitable[dict]]


async def ask_worker(nc: BusClient, context: CallContext, payload_json: bytes,
                     timeout: float) -> dict:
    """The workers' answer to a station's call (its payload as JSON text); OcppError
    when they answer with a fault or when none answers in time."""
    try:
        # A BusClient answers with a BusMsg (BusClient._request_new_style).
        reply = cast(BusMsg, await nc.request(subjects.worker_request(context.action),
                                              payload_json, timeout=timeout,
                                              headers=context.headers()))
    except NoRespondersError:
        raise OcppError(Fault.INTERNAL, f"no worker serves {context.action} right now") from None
    except NatsTimeoutError:
        raise OcppError(Fault.INTERNAL, f"no worker answered {context.action} in time") from None
    fault = reply.header(events.FAULT)
    if fault is not None:
        raise OcppError(Fault(fault), reply.data.decode(errors="replace"))
    return orjson.loads(reply.data)


class Responder:
    """Serves worker requests for a set of actions in one queue group, each request
    in its own task, at most ``concurrency`` at a time."""

    def __init__(self, nc: Client, group: str, concurrency: int = 256):
        self._nc = nc
        self._group = group
        self._requests = TaskPerMessage(nc, concurrency)

    async def serve(self, action: str, handler: Handler) -> None:
        await self._requests.subscribe(subjects.worker_request(action), self._group,
                                       functools.partial(self._answer, handler))

    async def _answer(self, handler: Handler, msg: Msg) -> None:
        try:
            context = CallContext.from_headers(msg.headers)
            response = await handler(context, orjson.loads(msg.data))
            await self._nc.publish(msg.reply, orjson.dumps(response))
        except OcppError as error:
            await self._reply_fault(msg, error.fault, error.description)
        except Exception:
            log.exception("handling %s failed", msg.subject)
            await self._reply_fault(msg, Fault.INTERNAL, "the worker failed to handle this call")

    async def _reply_fault(self, msg: Msg, fault: Fault, description: str) -> None:
        await self._nc.publish(msg.reply, description.encode(), headers={events.FAULT: fault.value})

    async def stop(self) -> None:
        """Take no new requests; finish the ones under way."""
        await self._requests.stop()
