"""One worker process serving every role; run several for more capacity."""
import asyncio

from chargebus.bus import subjects
from chargebus.bus.client import BusClient
from chargebus.bus.consumers import BatchHandler, DeadLetters, DurableConsumer
from chargebus.bus.rpc import Responder
from chargebus.domain.firmware import STATUS_ACTIONS as FIRMWARE_STATUS_ACTIONS
from chargebus.domain.loadmanagement import EVENT_ACTIONS as LOAD_MANAGER_ACTIONS
from chargebus.domain.sessions import TRANSACTION_ACTIONS
from chargebus.domain.stationlogs import STATUS_ACTIONS as LOG_STATUS_ACTIONS
from chargebus.runtime.config import Settings
from chargebus.runtime.service import Stop
from chargebus.security.authority import authority_of
from chargebus.services.workers.authorization import Authorization
from chargebus.services.workers.certificates import Certificates
from chargebus.services.workers.reports import (ChargingProfiles, CustomerReports,
                                                 DisplayMessages)
from chargebus.services.workers.devicemodel import DeviceModel
from chargebus.services.workers.feed import FeedMaker
from chargebus.services.workers.firmware import Firmware
from chargebus.services.workers.rollouts import Rollouts
from chargebus.services.workers.loadmanager import LoadManager
from chargebus.services.workers.password_checks import PasswordChecks
from chargebus.services.workers.passwords import PasswordCheck
from chargebus.services.workers.registry import Registry
from chargebus.services.workers.reservations import Reservations
from chargebus.services.workers.stationlogs import StationLogs
from chargebus.services.workers.transactions import Transactions
from chargebus.services.workers.webhooks import WebhookDispatcher
from chargebus.state.records import StationInfo
from chargebus.state.stores import Stores


async def start_workers(settings: Settings, nc: BusClient) -> Stop:
    js = nc.jetstream()
    stores = Stores(js)
    authorization = Authorization(stores, settings)
    device_model = DeviceModel(nc, stores, DeadLetters(js, subjects.DEVICE_MODEL_CONSUMER),
                               settings.device_model_on_boot)
    rollouts = Rollouts(nc, stores, settings)
    firmware = Firmware(stores, DeadLetters(js, subjects.FIRMWARE_CONSUMER),
                        rollouts.update_ended)

    def booted(before: StationInfo | None, now: StationInfo) -> None:
        device_model.booted(before, now)
        firmware.booted(before, now)
    registry = Registry(stores, settings, DeadLetters(js, subjects.STATUS_CONSUMER), booted)
    reservations = Reservations(stores, DeadLetters(js, subjects.RESERVATION_CONSUMER))
    profiles = ChargingProfiles(stores, DeadLetters(js, subjects.CHARGING_PROFILES_CONSUMER))
    messages = DisplayMessages(stores, DeadLetters(js, subjects.DISPLAY_MESSAGES_CONSUMER))
    customers = CustomerReports(stores, DeadLetters(js, subjects.CUSTOMERS_CONSUMER))
    station_logs = StationLogs(stores, DeadLetters(js, subjects.LOGS_CONSUMER))
    load_manager = LoadManager(nc, stores, settings,
                               DeadLetters(js, subjects.LOAD_MANAGER_CONSUMER))
    transactions = Transactions(js, stores, authorization, reservations, settings,
                                DeadLetters(js, subjects.TRANSACTION_CONSUMER))
    certificates = Certificates(nc, stores, settings, authority_of(settings, nc))

    passwords = PasswordCheck(nc, stores, PasswordChecks(settings.worker_password_processes,
                                                         settings.worker_password_queue))
    try:
        await passwords.start()
    except OSError as error:
        raise SystemExit(f"workers: cannot start the password hasher: {error}") from None

    responders = []
    for role, handlers in (
        ("registry", {"BootNotification": registry.boot_notification}),
        ("authorization", {"Authorize": authorization.authorize}),
        ("transactions", dict.fromkeys(TRANSACTION_ACTIONS, transactions.answer)),
        ("certificates", {"SignCertificate": certificates.sign_certificate}),
    ):
        responder = Responder(nc, subjects.queue_group(role))
        for action, handler in handlers.items():
            await responder.serve(action, handler)
        responders.append(responder)

    consumers = [
        DurableConsumer(nc, subjects.OCPP_STREAM, subjects.STATUS_CONSUMER,
                        subjects.station_events("StatusNotification"), registry.record_statuses,
                        ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM, subjects.DEVICE_MODEL_CONSUMER,
                        subjects.station_events("NotifyReport"), device_model.record_reports,
                        ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM,
                        subjects.action_consumer(subjects.DEVICE_MODEL_CONSUMER,
                                                 "NotifyMonitoringReport"),
                        subjects.station_events("NotifyMonitoringReport"),
                        device_model.record_monitoring,
                        ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM,
                        subjects.action_consumer(subjects.DEVICE_MODEL_CONSUMER, "NotifyEvent"),
                        subjects.station_events("NotifyEvent"), device_model.record_events,
                        ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM, subjects.RESERVATION_CONSUMER,
                        subjects.station_events("ReservationStatusUpdate"),
                        reservations.record_updates, ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM, subjects.CHARGING_PROFILES_CONSUMER,
                        subjects.station_events("ReportChargingProfiles"),
                        profiles.record_reports, ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM, subjects.DISPLAY_MESSAGES_CONSUMER,
                        subjects.station_events("NotifyDisplayMessages"),
                        messages.record_reports, ack_wait=settings.consumer_ack_wait_seconds),
        DurableConsumer(nc, subjects.OCPP_STREAM, subjects.CUSTOMERS_CONSUMER,
                        subjects.station_events("NotifyCustomerInformation"),
                        customers.record_parts, ack_wait=settings.consumer_ack_wait_seconds),
    ]

    def per_action(consumer: str, actions: tuple[str, ...], handle: BatchHandler,
                   batch_size: int = 256) -> list[DurableConsumer]:
        """A consumer of each action, named after the one it reads."""
        return [DurableConsumer(nc, subjects.OCPP_STREAM,
                                subjects.action_consumer(consumer, action),
                                subjects.station_events(action), handle, batch_size=batch_size,
                                ack_wait=settings.consumer_ack_wait_seconds)
                for action in actions]
    # The rules of chargebus.domain.sessions give the same record whatever order a
    # transaction's events are applied in.
    consumers += per_action(subjects.TRANSACTION_CONSUMER, TRANSACTION_ACTIONS,
                            transactions.apply, batch_size=64)
    consumers += per_action(subjects.LOAD_MANAGER_CONSUMER, LOAD_MANAGER_ACTIONS,
                            load_manager.record_events, batch_size=64)
    consumers += per_action(subjects.FIRMWARE_CONSUMER, FIRMWARE_STATUS_ACTIONS,
                            firmware.record_statuses)
    consumers += per_action(subjects.LOGS_CONSUMER, LOG_STATUS_ACTIONS,
                            station_logs.record_statuses)
    consumers += FeedMaker(nc, settings.consumer_ack_wait_seconds).consumers()
    for consumer in consumers:
        await consumer.start()
    dispatcher = WebhookDispatcher(nc, settings.webhook_timeout_seconds,
                                   settings.webhook_max_retry_seconds)
    await dispatcher.start()
    await load_manager.start()
    await rollouts.start()
    transactions.start_sweeping()
    certificates.start_watching()

    async def stop() -> None:
        await transactions.stop_sweeping()
        for responder in responders:
            await responder.stop()
        await certificates.stop()
        # All at once: each waits for its pull under way to end, which one after the
        # other took longer than a service is given to stop.
        await asyncio.gather(*(consumer.stop() for consumer in consumers))
        await passwords.stop()
        await device_model.stop()
        await load_manager.stop()
        await firmware.stop()
        await rollouts.stop()
        await dispatcher.stop()

    return stop
