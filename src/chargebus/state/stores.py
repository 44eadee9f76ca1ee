"""The live state in JetStream KV: stations, statuses, tokens and transactions."""
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel

from chargebus.bus import events, subjects
from chargebus.bus.replay import replay
from chargebus.domain.devicemodel import Component, ComponentRef, ReportProgress
from chargebus.domain.rollouts import Rollout
from chargebus.state.identifiers import kv_key
from chargebus.state.records import (ActiveTransactions, ApiCommand, ApiKey, Claim, ConnectorStatus,
                                     CustomerReport,
                                     FileGrant, LastHeard, StationLogs, StoredFile,
                                     LocalList, Presence, RemoteStart, StationAccess,
                                     StationAdmission, StationCertificates, StationInfo,
                                     SiteAllocation, SiteMember, SiteRecord, StationFirmware,
                                     StationMessages, StationProfiles,
                                     StationReservations, Token, Transaction, Webhook)

MAX_UPDATE_ATTEMPTS = 20

Record = TypeVar("Record", bound=BaseModel)


class Conflict(Exception):
    """Another writer kept changing the record between our read and our write."""


class RecordStore(Generic[Record]):
    """Records of one pydantic model in one KV bucket, under escaped keys."""

    def __init__(self, js: JetStreamContext, bucket: str, model: type[Record]):
        self._js = js
        self._bucket_name = bucket
        self._model = model
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(self._bucket_name)
        return self._bucket

    async def get(self, *key: str) -> Record | None:
        record, _ = await self.get_with_revision(*key)
        return record

    async def get_with_revision(self, *key: str) -> tuple[Record | None, int]:
        kv = await self._kv()
        try:
            entry = await kv.get(kv_key(*key))
        except KeyNotFoundError:
            return None, 0
        if entry.value is None:  # a deleted key
            return None, entry.revision or 0
        return self._model.model_validate_json(entry.value), entry.revision or 0

    async def put(self, record: Record, *key: str) -> int:
        kv = await self._kv()
        return await kv.put(kv_key(*key), record.model_dump_json().encode())

    async def create(self, record: Record, *key: str) -> bool:
        """Store the record unless the key already holds one; tell whether it was stored."""
        kv = await self._kv()
        try:
            await kv.create(kv_key(*key), record.model_dump_json().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def modify(self, change: Callable[[Record | None],
                                            Awaitable[Record | None] | Record | None],
                     *key: str) -> Record | None:
        """Read, change and write back one record, retrying when another writer won.
        A change that returns None writes nothing; the record as read is returned."""
        kv = await self._kv()
        for _ in range(MAX_UPDATE_ATTEMPTS):
            current, revision = await self.get_with_revision(*key)
            changed = change(current)
            if isinstance(changed, Awaitable):
                changed = await changed
            if changed is None:  # nothing to change
                return current
            data = changed.model_dump_json().encode()
            try:
                if revision:
                    await kv.update(kv_key(*key), data, last=revision)
                else:
                    await kv.create(kv_key(*key), data)
            except KeyWrongLastSequenceError:
                continue
            return changed
        raise Conflict(f"{self._bucket_name}: {key} kept changing")

    async def delete(self, *key: str) -> None:
        kv = await self._kv()
        await kv.delete(kv_key(*key))

    async def all(self, *prefix: str) -> list[Record]:
        """Every record of the bucket, or those whose key starts with the parts ``prefix``:
        the latest value of each key, through one ordered consumer (bus.replay)."""
        stream_subject = subjects.kv_key_prefix(self._bucket_name)
        records = []
        async for msg in replay(
                self._js, subjects.kv_stream(self._bucket_name),
                stream_subject + (f"{kv_key(*prefix)}.>" if prefix else ">"),
                latest_per_subject=True):
            if msg.data:  # a deleted or purged key has none
                records.append(self._model.model_validate_json(msg.data))
        return records


class Stores:
    """Every store, over one JetStream context."""

    def __init__(self, js: JetStreamContext):
        self.stations = RecordStore(js, subjects.STATIONS_BUCKET, StationInfo)
        self.statuses = RecordStore(js, subjects.STATUSES_BUCKET, ConnectorStatus)
        self.tokens = RecordStore(js, subjects.TOKENS_BUCKET, Token)
        self.transactions = RecordStore(js, subjects.TRANSACTIONS_BUCKET, Transaction)
        self.active = RecordStore(js, subjects.TRANSACTIONS_BUCKET, ActiveTransactions)
        self.claims = RecordStore(js, subjects.TRANSACTIONS_BUCKET, Claim)
        self.remote_starts = RecordStore(js, subjects.TRANSACTIONS_BUCKET, RemoteStart)
        self.access = RecordStore(js, subjects.ACCESS_BUCKET, StationAccess)
        self.admission = RecordStore(js, subjects.ADMISSION_BUCKET, StationAdmission)
        self.local_lists = RecordStore(js, subjects.LOCAL_LISTS_BUCKET, LocalList)
        self.presence = RecordStore(js, subjects.PRESENCE_BUCKET, Presence)
        self.certificates = RecordStore(js, subjects.CERTIFICATES_BUCKET, StationCertificates)
        self.reservations = RecordStore(js, subjects.RESERVATIONS_BUCKET, StationReservations)
        self.last_heard = RecordStore(js, subjects.LAST_HEARD_BUCKET, LastHeard)
        self.components = RecordStore(js, subjects.DEVICE_MODEL_BUCKET, Component)
        self.reports = RecordStore(js, subjects.DEVICE_MODEL_BUCKET, ReportProgress)
        self.profiles = RecordStore(js, subjects.CHARGING_PROFILES_BUCKET, StationProfiles)
        self.sites = RecordStore(js, subjects.SITES_BUCKET, SiteRecord)
        self.site_members = RecordStore(js, subjects.SITES_BUCKET, SiteMember)
        self.allocations = RecordStore(js, subjects.SITES_BUCKET, SiteAllocation)
        self.firmware = RecordStore(js, subjects.FIRMWARE_BUCKET, StationFirmware)
        self.rollouts = RecordStore(js, subjects.ROLLOUTS_BUCKET, Rollout)
        self.messages = RecordStore(js, subjects.DISPLAY_MESSAGES_BUCKET, StationMessages)
        self.customer_reports = RecordStore(js, subjects.CUSTOMERS_BUCKET, CustomerReport)
        self.file_grants = RecordStore(js, subjects.FILE_GRANTS_BUCKET, FileGrant)
        self.files = RecordStore(js, subjects.FILES_BUCKET, StoredFile)
        self.station_logs = RecordStore(js, subjects.STATION_LOGS_BUCKET, StationLogs)
        self.api_keys = RecordStore(js, subjects.API_KEYS_BUCKET, ApiKey)
        self.api_commands = RecordStore(js, subjects.API_COMMANDS_BUCKET, ApiCommand)
        self.webhooks = RecordStore(js, subjects.WEBHOOKS_BUCKET, Webhook)
        self._js = js

    async def next_transaction_id(self, repeat_key: str) -> int:
        """A transaction id no worker has had before: the sequence of a JetStream stream.

        The same ``repeat_key`` within the stream's duplicate window gets the same id
        again, which is JetStream's deduplication answering with the first sequence.
        """
        ack = await self._js.publish(subjects.transaction_id_counter(), b"",
                                     headers={events.NATS_MSG_ID: repeat_key})
        return ack.seq

    async def next_operation_id(self) -> int:
        """An id for a remote start (2.x remoteStartId) or a reservation that no other
        has had: from the same sequence as the transaction ids, which never repeats."""
        ack = await self._js.publish(subjects.transaction_id_counter(), b"")
        return ack.seq


# The first part of each kind of key in the shared buckets: several kinds share a bucket,
# and a sweep lists one kind by its prefix.
TRANSACTION_PREFIX = "tx"
CLAIM_PREFIX = "claim"
ACTIVE_PREFIX = "active"
REMOTE_START_PREFIX = "remote"
# In the device-model bucket, after the station id; NO_PART stands for a part not given.
COMPONENT_PREFIX = "component"
REPORT_PREFIX = "report"
NO_PART = "-"
# In the sites bucket.
SITE_PREFIX = "site"
MEMBER_PREFIX = "member"
ALLOCATION_PREFIX = "allocation"


def transaction_key(station_id: str, transaction_id: str) -> tuple[str, str, str]:
    """Transaction ids are the station's own in 2.x, so they are keyed per station."""
    return (TRANSACTION_PREFIX, station_id, transaction_id)


def transactions_of(station_id: str) -> tuple[str, str]:
    """The key prefix of a station's transactions."""
    return (TRANSACTION_PREFIX, station_id)


def claim_key(station_id: str, transaction_id: str) -> tuple[str, str, str]:
    """Where the token a transaction counts against is noted."""
    return (CLAIM_PREFIX, station_id, transaction_id)


def active_key(id_token: str) -> tuple[str, str]:
    """Where the transactions a token has under way are listed."""
    return (ACTIVE_PREFIX, token_key(id_token))


def remote_start_key(station_id: str, remote_start_id: int) -> tuple[str, str, str]:
    """Where a remote start waits for the transaction it causes."""
    return (REMOTE_START_PREFIX, station_id, str(remote_start_id))


def remote_starts_of(station_id: str) -> tuple[str, str]:
    """The key prefix of a station's remote starts."""
    return (REMOTE_START_PREFIX, station_id)


def component_key(station_id: str, ref: ComponentRef) -> tuple[str, ...]:
    """Where one component of a station's device model (1.6: its keys) is kept."""
    return (station_id, COMPONENT_PREFIX, ref.name or NO_PART, ref.instance or NO_PART,
            NO_PART if ref.evse_id is None else str(ref.evse_id),
            NO_PART if ref.connector_id is None else str(ref.connector_id))


def components_of(station_id: str) -> tuple[str, str]:
    return (station_id, COMPONENT_PREFIX)


def report_key(station_id: str, request_id: int) -> tuple[str, str, str]:
    """Where the progress of one report (its parts) is kept."""
    return (station_id, REPORT_PREFIX, str(request_id))


def reports_of(station_id: str) -> tuple[str, str]:
    return (station_id, REPORT_PREFIX)


def token_key(id_token: str) -> str:
    """OCPP compares id tokens without regard to case."""
    return id_token.casefold()


def site_key(site_id: str) -> tuple[str, str]:
    return (SITE_PREFIX, site_id)


def sites() -> tuple[str]:
    return (SITE_PREFIX,)


def member_key(station_id: str) -> tuple[str, str]:
    """Where the site a station is in is named."""
    return (MEMBER_PREFIX, station_id)


def allocation_key(site_id: str) -> tuple[str, str]:
    """Where the load manager keeps a site's sessions, what it told its EVSEs, its lease."""
    return (ALLOCATION_PREFIX, site_id)


def customer_report_key(station_id: str, request_id: int) -> tuple[str, str]:
    return (station_id, str(request_id))
