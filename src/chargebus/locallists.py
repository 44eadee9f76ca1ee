"""Local authorization lists: what each station should hold, and bringing it there.

The list and its version live in KV (``local-lists``); so does what the station last
confirmed (``sent`` at ``sent_version``), from which a differential update is made.
Updates go out through the command path (chargebus.commands), in the station's version.
"""
from dataclasses import dataclass

from nats.aio.client import Client

from chargebus.commands import CommandReply, Outcome, call_station
from chargebus.convert import converter
from chargebus.protocol import OcppVersion
from chargebus.records import LocalList, LocalListEntry
from chargebus.stores import Stores


class NoVersionKnown(Exception):
    """chargebus has never seen the station, so it cannot tell which OCPP it speaks."""


@dataclass(frozen=True)
class SendOutcome:
    reply: CommandReply
    version: int
    full: bool

    @property
    def accepted(self) -> bool:
        return self.reply.ok and self.reply.body.get("status") == "Accepted"


def changes(wanted: dict[str, LocalListEntry],
            held: dict[str, LocalListEntry]) -> dict[str, LocalListEntry | None]:
    """A differential update from ``held`` to ``wanted``: None removes a token."""
    update: dict[str, LocalListEntry | None] = {
        token: entry for token, entry in wanted.items() if held.get(token) != entry}
    update.update({token: None for token in held if token not in wanted})
    return update


def edit(current: LocalList | None, station_id: str, put: dict[str, LocalListEntry],
         drop: list[str]) -> LocalList:
    """The list with tokens added or changed and others removed, one version on."""
    base = current or LocalList(station_id=station_id)
    entries = dict(base.entries) | put
    for token in drop:
        entries.pop(token, None)
    return base.model_copy(update={"entries": entries, "version": base.version + 1})


async def station_version(stores: Stores, station_id: str) -> OcppVersion:
    presence = await stores.presence.get(station_id)
    if presence is not None:
        return presence.version
    info = await stores.stations.get(station_id)
    if info is None:
        raise NoVersionKnown(f"{station_id} never connected: its OCPP version is unknown")
    return info.version


async def send(nc: Client, stores: Stores, station_id: str, full: bool,
               timeout: float) -> SendOutcome:
    """SendLocalList: differential from what the station confirmed last, or the whole
    list when asked or when the station never confirmed one."""
    local_list = await stores.local_lists.get(station_id) or LocalList(station_id=station_id)
    full = full or local_list.sent_version == 0
    update = (dict(local_list.entries) if full
              else changes(local_list.entries, local_list.sent))
    convert = converter(await station_version(stores, station_id))
    payload = convert.send_local_list(local_list.version or 1, full, update)
    reply = await call_station(nc, station_id, "SendLocalList", payload, timeout)
    outcome = SendOutcome(reply, local_list.version or 1, full)
    if outcome.accepted:
        def confirm(current: LocalList | None) -> LocalList:
            base = current or local_list
            return base.model_copy(update={"sent": local_list.entries,
                                           "sent_version": local_list.version or 1})
        await stores.local_lists.modify(confirm, station_id)
    return outcome


async def held_version(nc: Client, stores: Stores, station_id: str,
                       timeout: float) -> tuple[CommandReply, int | None]:
    """GetLocalListVersion: the version the station says it holds."""
    convert = converter(await station_version(stores, station_id))
    reply = await call_station(nc, station_id, "GetLocalListVersion", {}, timeout)
    if reply.outcome is not Outcome.RESULT:
        return reply, None
    return reply, convert.local_list_version(reply.body)
