"""The stations whose sockets this edge holds, as the rest of the system sees them.

For each: its presence record in KV, so that every process knows which edge holds it;
a CSMS-to-station call goes to that edge's command subject, which the edge subscribes
to once for all its stations. The last connection wins: a station that connects
again, here or on another edge, writes a newer presence record, and the edge that held
the older connection closes it when it sees that record.

Attach and detach run per station, one at a time, and do what the connection map says
at that moment, so a quick reconnect never leaves a stale record.
"""
import asyncio
import logging
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from picows import WSCloseCode
from pydantic import ValidationError

from chargebus.bus import subjects
from chargebus.ocpp import OcppVersion
from chargebus.operations.commands import CommandReply, Outcome
from chargebus.services.edge.connection import StationConnection
from chargebus.state.identifiers import kv_key
from chargebus.state.records import CertificateFacts, Presence

log = logging.getLogger(__name__)


class _Attachment:
    """This edge's presence record of one station: what it wrote, at which revision.
    The record itself is made again when it is to be marked offline (a pydantic model
    kept per station cost 1.1 KiB)."""

    __slots__ = ("lock", "connection_id", "revision", "version", "connected_at",
                 "disconnected_at", "certificate")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.connection_id: str | None = None
        self.revision: int | None = None  # of this edge's presence record
        self.version: OcppVersion | None = None
        self.connected_at: datetime | None = None
        self.disconnected_at: datetime | None = None
        self.certificate: CertificateFacts | None = None

    def record(self, station_id: str, edge_id: str) -> Presence:
        # Set when the station's connection claims its record, before any is made.
        assert (self.connection_id is not None and self.version is not None
                and self.connected_at is not None)
        return Presence(station_id=station_id, edge_id=edge_id,
                        connection_id=self.connection_id, version=self.version,
                        connected_at=self.connected_at, certificate=self.certificate)


class Stations:
    def __init__(self, nc: Client, edge_id: str, offline_grace: float):
        self._nc = nc
        self._edge_id = edge_id
        self._offline_grace = offline_grace
        self._offline_due: dict[str, asyncio.TimerHandle] = {}  # station id -> when
        self._connections: dict[str, StationConnection] = {}
        self._attachments: dict[str, _Attachment] = {}
        self._by_key: dict[str, str] = {}  # presence key -> station id
        self._kv: KeyValue  # set by start()
        self._watching: asyncio.Task | None = None
        self._commands: Subscription | None = None
        self._tasks: set[asyncio.Task] = set()

    def __len__(self) -> int:
        return len(self._connections)

    def get(self, station_id: str) -> StationConnection | None:
        return self._connections.get(station_id)

    def all(self) -> list[StationConnection]:
        return list(self._connections.values())

    async def start(self) -> None:
        self._kv = await self._nc.jetstream().key_value(subjects.PRESENCE_BUCKET)
        watcher = await self._kv.watchall()
        self._watching = asyncio.create_task(self._watch(watcher))
        self._commands = await self._nc.subscribe(subjects.edge_commands(self._edge_id),
                                                  cb=self._on_command)

    async def stop(self) -> None:
        """Detach every station (call after their sockets are closed)."""
        for due in self._offline_due.values():
            due.cancel()
        self._offline_due.clear()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for station_id in list(self._attachments):
            await self._reconcile(station_id)
        if self._commands is not None:
            await self._commands.unsubscribe()
        if self._watching is not None:
            self._watching.cancel()

    def add(self, connection: StationConnection) -> None:
        due = self._offline_due.pop(connection.station_id, None)
        if due is not None:  # back within the grace: it was never reported offline
            due.cancel()
        previous = self._connections.get(connection.station_id)
        self._connections[connection.station_id] = connection
        self._by_key[kv_key(connection.station_id)] = connection.station_id
        if previous is not None:
            previous.replace("replaced by a newer connection")
        self._schedule(connection.station_id)

    def remove(self, connection: StationConnection) -> None:
        station_id = connection.station_id
        if self._connections.get(station_id) is not connection:
            return
        del self._connections[station_id]
        attachment = self._attachments.get(station_id)
        if attachment is not None:
            attachment.disconnected_at = datetime.now(UTC)
        if self._offline_grace <= 0:
            self._schedule(station_id)
            return
        # add() took any earlier timer of this station away: only the current
        # connection gets here, and it was added.
        self._offline_due[station_id] = asyncio.get_running_loop().call_later(
            self._offline_grace, self._grace_over, station_id)

    def _grace_over(self, station_id: str) -> None:
        del self._offline_due[station_id]
        self._schedule(station_id)

    def _schedule(self, station_id: str) -> None:
        task = asyncio.create_task(self._reconcile(station_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reconcile(self, station_id: str) -> None:
        attachment = self._attachments.setdefault(station_id, _Attachment())
        async with attachment.lock:
            try:
                await self._bring_in_line(station_id, attachment)
            except Exception as error:
                log.warning("%s: presence record not updated: %s", station_id, error)
            if attachment.revision is None and station_id not in self._connections:
                self._attachments.pop(station_id, None)
                self._by_key.pop(kv_key(station_id), None)

    async def _bring_in_line(self, station_id: str, attachment: _Attachment) -> None:
        connection = self._connections.get(station_id)
        if connection is None:
            if attachment.revision is not None:
                await self._mark_offline(kv_key(station_id),
                                         attachment.record(station_id, self._edge_id),
                                         attachment.revision, attachment.disconnected_at)
                attachment.revision = None
                attachment.connection_id = None
            return
        if attachment.connection_id != connection.connection_id:
            attachment.connection_id = connection.connection_id
            attachment.version = connection.version
            attachment.connected_at = datetime.now(UTC)
            attachment.certificate = connection.certificate
            record = attachment.record(station_id, self._edge_id)
            attachment.revision = None  # a claim under way: ignore older records meanwhile
            attachment.revision = await self._kv.put(kv_key(station_id),
                                                     record.model_dump_json().encode())

    async def _on_command(self, msg: Msg) -> None:
        station_id = subjects.commanded_station(msg.subject)
        connection = self._connections.get(station_id)
        if connection is None:  # gone since its presence record was read
            body, headers = CommandReply.failure(
                Outcome.OFFLINE, f"{station_id} is not connected").encode()
            if msg.reply:
                await self._nc.publish(msg.reply, body, headers=headers)
            return
        connection.outbound.submit(msg)

    async def _watch(self, watcher: KeyValue.KeyWatcher) -> None:
        """Close the local connection of a station that connected again elsewhere, and
        mark offline this edge's records that no socket backs (left by a crash)."""
        async for entry in watcher:
            if entry is None or not entry.value:
                continue
            try:
                record = Presence.model_validate_json(entry.value)
            except ValidationError:
                log.warning("presence record %s is unreadable", entry.key)
                continue
            if not record.online:
                continue
            station_id = self._by_key.get(entry.key)
            connection = self._connections.get(station_id) if station_id else None
            if station_id is None or connection is None:
                if record.edge_id == self._edge_id and record.station_id not in self._attachments:
                    await self._mark_offline(entry.key, record, entry.revision)
                continue
            attachment = self._attachments.get(station_id)
            claimed = attachment.revision if attachment is not None else None
            if (record.connection_id != connection.connection_id and claimed is not None
                    and entry.revision > claimed):
                log.info("%s connected again on %s; closing its connection here",
                         station_id, record.edge_id)
                connection.replace(f"connected again on {record.edge_id}",
                                   WSCloseCode.GOING_AWAY)

    async def _mark_offline(self, key: str, record: Presence, revision: int,
                            disconnected_at: datetime | None = None) -> None:
        """Keep the record as the station's last sighting, unless a newer connection,
        here or elsewhere, owns it by now."""
        gone = record.model_copy(update={
            "online": False, "disconnected_at": disconnected_at or datetime.now(UTC)})
        try:
            await self._kv.update(key, gone.model_dump_json().encode(), last=revision)
        except KeyWrongLastSequenceError:
            pass
