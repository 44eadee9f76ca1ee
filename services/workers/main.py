"""One worker process serving every role; run several for more capacity."""
from nats.aio.client import Client

from chargebus import subjects
from chargebus.config import Settings
from chargebus.consumers import DeadLetters, DurableConsumer
from chargebus.rpc import Responder
from chargebus.stores import Stores
from chargebus_services.workers.authorization import Authorization
from chargebus_services.workers.registry import Registry
from chargebus_services.workers.transactions import Transactions


async def start_workers(settings: Settings, nc: Client):
    js = nc.jetstream()
    stores = Stores(js)
    authorization = Authorization(stores)
    registry = Registry(stores, settings, DeadLetters(js, subjects.STATUS_CONSUMER))
    transactions = Transactions(stores, authorization)

    responders = []
    for role, handlers in (
        ("registry", {"BootNotification": registry.boot_notification}),
        ("authorization", {"Authorize": authorization.authorize}),
        ("transactions", {
            "StartTransaction": transactions.start_transaction,
            "StopTransaction": transactions.stop_transaction,
            "TransactionEvent": transactions.transaction_event,
        }),
    ):
        responder = Responder(nc, subjects.queue_group(role))
        for action, handler in handlers.items():
            await responder.serve(action, handler)
        responders.append(responder)

    statuses = DurableConsumer(
        js, subjects.OCPP_STREAM, subjects.STATUS_CONSUMER,
        [subjects.station_events("StatusNotification")], registry.record_statuses)
    await statuses.start()

    async def stop() -> None:
        for responder in responders:
            await responder.stop()
        await statuses.stop()

    return stop
