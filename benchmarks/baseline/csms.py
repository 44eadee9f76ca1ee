"""The baseline: a CSMS written the way the `ocpp` library's README shows, as a Python
developer would build one today. websockets server, a ChargePoint subclass per OCPP
version with @on handlers, the library's default schema validation, state in memory.

    .venv/bin/python benchmarks/baseline/csms.py --port 9100

Stations connect to ws://127.0.0.1:<port>/<station id> with subprotocol ocpp1.6,
ocpp2.0.1 or ocpp2.1. It answers what `chargebus simulate` sends: BootNotification,
Heartbeat, StatusNotification, Authorize, MeterValues, StartTransaction and
StopTransaction (1.6), TransactionEvent (2.0.1, 2.1). As chargebus does with tokens it
was not told of, it answers every token Invalid.

Departures from the README, in the baseline's favour or neutral: logging at WARNING
instead of INFO (the library logs every message at INFO); the open-files limit raised
to the hard limit, so that 10,000 stations can connect; SIGINT and SIGTERM close the
server (a process started in the background ignores SIGINT otherwise).
"""
import argparse
import asyncio
import itertools
import logging
import resource
import signal
from datetime import UTC, datetime

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16Base
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201Base
from ocpp.v21 import ChargePoint as ChargePoint21Base

SUBPROTOCOLS = ["ocpp2.1", "ocpp2.0.1", "ocpp1.6"]
HEARTBEAT_INTERVAL = 300


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class State:
    """Everything the CSMS knows, in dicts, lost when it stops."""

    def __init__(self) -> None:
        self.stations: dict[str, dict] = {}
        self.statuses: dict[tuple[str, int, int], str] = {}
        self.tokens: dict[str, str] = {}  # id token -> status; none are configured
        self.transactions: dict[tuple[str, str], dict] = {}
        self.transaction_ids = itertools.count(1)

    def authorize(self, id_token: str) -> dict:
        return {"status": self.tokens.get(id_token, "Invalid")}


STATE = State()


class ChargePoint16(ChargePoint16Base):
    @on(Action16.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        STATE.stations[self.id] = {"vendor": charge_point_vendor, "model": charge_point_model,
                                   "version": "1.6", "booted": now(), **kwargs}
        return result16.BootNotification(current_time=now(), interval=HEARTBEAT_INTERVAL,
                                         status=RegistrationStatus.accepted)

    @on(Action16.heartbeat)
    def on_heartbeat(self):
        return result16.Heartbeat(current_time=now())

    @on(Action16.status_notification)
    def on_status_notification(self, connector_id, error_code, status, **kwargs):
        STATE.statuses[(self.id, 0, connector_id)] = status
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag):
        return result16.Authorize(id_tag_info=STATE.authorize(id_tag))

    @on(Action16.start_transaction)
    def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **kwargs):
        transaction_id = next(STATE.transaction_ids)
        STATE.transactions[(self.id, str(transaction_id))] = {
            "connector": connector_id, "id_tag": id_tag, "meter_start": meter_start,
            "started": timestamp, "meter_last": meter_start, "readings": 0}
        return result16.StartTransaction(transaction_id=transaction_id,
                                         id_tag_info=STATE.authorize(id_tag))

    @on(Action16.meter_values)
    def on_meter_values(self, connector_id, meter_value, transaction_id=None, **kwargs):
        transaction = STATE.transactions.get((self.id, str(transaction_id)))
        if transaction is not None:
            transaction["readings"] += len(meter_value)
            transaction["meter_last"] = meter_value[-1]
        return result16.MeterValues()

    @on(Action16.stop_transaction)
    def on_stop_transaction(self, meter_stop, timestamp, transaction_id, id_tag=None,
                            **kwargs):
        transaction = STATE.transactions.get((self.id, str(transaction_id)))
        if transaction is not None:
            transaction.update(meter_stop=meter_stop, stopped=timestamp,
                               reason=kwargs.get("reason"))
        if id_tag is None:
            return result16.StopTransaction()
        return result16.StopTransaction(id_tag_info=STATE.authorize(id_tag))


class Handlers2x:
    """The same handlers for 2.0.1 and 2.1; each version's ChargePoint brings its own
    call_result classes and schemas."""

    @on("BootNotification")
    def on_boot_notification(self, charging_station, reason, **kwargs):
        STATE.stations[self.id] = {"station": charging_station, "reason": reason,
                                   "version": self._ocpp_version, "booted": now()}
        return self._call_result.BootNotification(
            current_time=now(), interval=HEARTBEAT_INTERVAL, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **kwargs):
        return self._call_result.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status_notification(self, timestamp, connector_status, evse_id, connector_id,
                               **kwargs):
        STATE.statuses[(self.id, evse_id, connector_id)] = connector_status
        return self._call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token, **kwargs):
        return self._call_result.Authorize(id_token_info=STATE.authorize(id_token["id_token"]))

    @on("MeterValues")
    def on_meter_values(self, evse_id, meter_value, **kwargs):
        return self._call_result.MeterValues()

    @on("TransactionEvent")
    def on_transaction_event(self, event_type, timestamp, trigger_reason, seq_no,
                             transaction_info, **kwargs):
        key = (self.id, transaction_info["transaction_id"])
        transaction = STATE.transactions.setdefault(key, {"events": 0, "readings": 0})
        transaction["events"] += 1
        transaction["readings"] += len(kwargs.get("meter_value", ()))
        transaction[event_type] = timestamp
        if "id_token" not in kwargs:
            return self._call_result.TransactionEvent()
        return self._call_result.TransactionEvent(
            id_token_info=STATE.authorize(kwargs["id_token"]["id_token"]))


class ChargePoint201(Handlers2x, ChargePoint201Base):
    pass


class ChargePoint21(Handlers2x, ChargePoint21Base):
    pass


CHARGE_POINTS = {"ocpp1.6": ChargePoint16, "ocpp2.0.1": ChargePoint201, "ocpp2.1": ChargePoint21}


async def on_connect(websocket):
    try:
        requested_protocols = websocket.request.headers["Sec-WebSocket-Protocol"]
    except KeyError:
        logging.error("Client hasn't requested any Subprotocol. Closing Connection")
        return await websocket.close()
    if not websocket.subprotocol:
        logging.warning("Protocols Mismatched | Expected Subprotocols: %s, but client "
                        "supports %s | Closing connection", SUBPROTOCOLS, requested_protocols)
        return await websocket.close()
    charge_point_id = websocket.request.path.strip("/")
    charge_point = CHARGE_POINTS[websocket.subprotocol](charge_point_id, websocket)
    try:
        await charge_point.start()
    except websockets.exceptions.ConnectionClosed:
        pass


async def main(host: str, port: int) -> None:
    server = await websockets.serve(on_connect, host, port, subprotocols=SUBPROTOCOLS)
    # Also when started in the background, where SIGINT is ignored unless handled.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signal_number, server.close)
    logging.warning("baseline CSMS listening on ws://%s:%d/<station id>", host, port)
    await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(arguments.host, arguments.port))
