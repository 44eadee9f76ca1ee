"""Local authorization lists: what each station should hold, and bringing it there.

The list and its version live in KV (``local-lists``); so does what the station last
confirmed (``sent`` at ``sent_version``), from which a differential update is made.
Updates go out through the command path (chargebus.operations.commands), in the station's version.
"""
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext

from chargebus.domain.locallists import changes, check_lengths, edit
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.converters import converter
from chargebus.operations import audit
from chargebus.operations.commands import CommandReply, Outcome, call_station
from chargebus.state.records import LocalList, LocalListEntry
from chargebus.state.stores import Stores


RESOURCE = "local-lists"


class NoVersionKnown(Exception):
    """chargebus has never seen the station, so it cannot tell which OCPP it speaks."""


class WouldEmptyStation(Exception):
    """A full list with no token would empty the station's own list: only when asked."""


@dataclass(frozen=True)
class SendOutcome:
    reply: CommandReply
    version: int
    full: bool

    @property
    def accepted(self) -> bool:
        return self.reply.ok and self.reply.body.get("status") == "Accepted"


async def station_version(stores: Stores, station_id: str) -> OcppVersion:
    presence = await stores.presence.get(station_id)
    if presence is not None:
        return presence.version
    info = await stores.stations.get(station_id)
    if info is None:
        raise NoVersionKnown(f"{station_id} never connected: its OCPP version is unknown")
    return info.version


async def edit_entries(stores: Stores, js: JetStreamContext, station_id: str,
                       put: dict[str, LocalListEntry], drop: list[str], sender: str
                       ) -> LocalList:
    """Add or change the tokens of ``put`` in the station's list and remove those of
    ``drop``, as its next version; TooLongForStation where a token is longer than the
    station's version takes (where it is known), NotInList where one to drop is not."""
    if put:
        try:
            check_lengths(station_id, await station_version(stores, station_id), put)
        except NoVersionKnown:
            pass  # checked when the list is sent
    changed = await stores.local_lists.modify(
        lambda current: edit(current, station_id, put, drop), station_id)
    assert changed is not None  # edit() always gives a list
    await audit.record_change(js, audit.change(
        sender, RESOURCE, "edit", station_id,
        {"version": changed.version, "put": sorted(put), "removed": sorted(drop)}))
    return changed


async def send(nc: Client, stores: Stores, station_id: str, full: bool,
               timeout: float) -> SendOutcome:
    """SendLocalList: differential from what the station confirmed last, or the whole
    list when asked or when the station never confirmed one. An empty whole list empties
    the station's: WouldEmptyStation unless asked for (``full``)."""
    local_list = await stores.local_lists.get(station_id) or LocalList(station_id=station_id)
    version = await station_version(stores, station_id)
    if not full and local_list.sent_version == 0 and not local_list.entries:
        raise WouldEmptyStation(f"{station_id} has no token in its list: sending it in full "
                                "empties the list the station holds")
    full = full or local_list.sent_version == 0
    update = (dict(local_list.entries) if full
              else changes(local_list.entries, local_list.sent))
    check_lengths(station_id, version, update)
    convert = converter(version)
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
