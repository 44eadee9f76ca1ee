"""Charging sessions: 1.6 StartTransaction / StopTransaction and 2.x TransactionEvent."""
import logging

from chargebus.clock import parse_timestamp
from chargebus.events import CallContext
from chargebus.meter import DEFAULT_MEASURAND, placement, samples
from chargebus.records import Transaction
from chargebus.stores import Stores, transaction_key
from chargebus_services.workers.authorization import Authorization

log = logging.getLogger(__name__)


class Transactions:
    def __init__(self, stores: Stores, authorization: Authorization):
        self._stores = stores
        self._authorization = authorization

    async def start_transaction(self, context: CallContext, payload: dict) -> dict:
        """1.6: a new integer id, the same one again for a repeated start."""
        status = await self._authorization.status_of(payload["idTag"])
        connector_id = payload["connectorId"]
        started_at = parse_timestamp(payload["timestamp"])
        transaction_id = await self._stores.next_transaction_id(
            repeat_key=f"{context.station_id}/{connector_id}/{started_at.isoformat()}")
        record = Transaction(
            transaction_id=str(transaction_id), station_id=context.station_id,
            version=context.version, evse_id=connector_id, id_token=payload["idTag"],
            started_at=started_at, meter_start_wh=payload["meterStart"],
        )
        await self._stores.transactions.create(
            record, *transaction_key(context.station_id, record.transaction_id))
        return {"transactionId": transaction_id, "idTagInfo": {"status": status}}

    async def stop_transaction(self, context: CallContext, payload: dict) -> dict:
        transaction_id = str(payload["transactionId"])
        stopped_at = parse_timestamp(payload["timestamp"])

        def stop(current: Transaction | None) -> Transaction:
            if current is None:
                # Kept all the same: the station will not send this stop again.
                log.warning("%s stopped unknown transaction %s", context.station_id, transaction_id)
                current = Transaction(transaction_id=transaction_id,
                                      station_id=context.station_id, version=context.version)
            return current.model_copy(update={
                "stopped_at": stopped_at,
                "meter_stop_wh": payload["meterStop"],
                "stop_reason": payload.get("reason", "Local"),
            })

        await self._stores.transactions.modify(
            stop, *transaction_key(context.station_id, transaction_id))
        if "idTag" in payload:
            return {"idTagInfo": {"status": await self._authorization.status_of(payload["idTag"])}}
        return {}

    async def transaction_event(self, context: CallContext, payload: dict) -> dict:
        """2.x: Started, Updated and Ended events of one station-chosen transaction id."""
        info = payload["transactionInfo"]
        transaction_id = info["transactionId"]
        event_type = payload["eventType"]
        moment = parse_timestamp(payload["timestamp"])
        where = placement(context.version, "TransactionEvent", payload)
        registers = [
            sample.value * (1000.0 if sample.unit == "kWh" else 1.0)
            for sample in samples(context.station_id, context.version, "TransactionEvent",
                                  payload, where)
            if sample.measurand == DEFAULT_MEASURAND
        ]
        id_token = (payload.get("idToken") or {}).get("idToken")

        def apply(current: Transaction | None) -> Transaction:
            record = current or Transaction(transaction_id=transaction_id,
                                            station_id=context.station_id,
                                            version=context.version)
            update: dict = {"last_seq_no": payload["seqNo"]}
            if where.evse_id is not None:
                update["evse_id"] = where.evse_id
                update["connector_id"] = where.connector_id or record.connector_id
            if id_token is not None:
                update["id_token"] = id_token
            if event_type == "Started" or record.started_at is None:
                update["started_at"] = moment
                if registers:
                    update["meter_start_wh"] = registers[0]
            if event_type == "Ended":
                update["stopped_at"] = moment
                update["stop_reason"] = info.get("stoppedReason", "Local")
                if registers:
                    update["meter_stop_wh"] = registers[-1]
            return record.model_copy(update=update)

        await self._stores.transactions.modify(
            apply, *transaction_key(context.station_id, transaction_id))
        if id_token is not None:
            return {"idTokenInfo": {"status": await self._authorization.status_of(id_token)}}
        return {}
