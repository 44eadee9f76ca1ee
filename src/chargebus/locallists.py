"""Local authorization lists: what each station should hold, and bringing it there.

The list and its version live in KV (``local-lists``); so does what the station last
confirmed (``sent`` at ``sent_version``), from which a differential update is made.
Updates go out through the command path (chargebus.commands), in the station's version.
"""
from dataclasses import dataclass

from nats.aio.client import Client

from chargebus.commands import CommandReply, Outcome, call_station
from chargebus.convert import converter
from chargebus.protocol import OcppVersion, max_id_token_length
from chargebus.records import LocalList, LocalListEntry
from chargebus.stores import Stores


class NoVersionKnown(Exception):
    """chargebus has never seen the station, so it cannot tell which OCPP it speaks."""


class NotInList(Exception):
    """Tokens to remove that the list does not hold: the list is left as it was."""


class TooLongForStation(Exception):
    """Tokens (or their parents) longer than the station's OCPP version carries."""


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


def changes(wanted: dict[str, LocalListEntry],
            held: dict[str, LocalListEntry]) -> dict[str, LocalListEntry | None]:
    """A differential update from ``held`` to ``wanted``: None removes a token."""
    update: dict[str, LocalListEntry | None] = {
        token: entry for token, entry in wanted.items() if held.get(token) != entry}
    update.update({token: None for token in held if token not in wanted})
    return update


def edit(current: LocalList | None, station_id: str, put: dict[str, LocalListEntry],
         drop: list[str]) -> LocalList:
    """The list with tokens added or changed and others removed, one version on;
    NotInList if a token to remove is not in it."""
    base = current or LocalList(station_id=station_id)
    missing = [token for token in drop if token not in base.entries]
    if missing:
        raise NotInList(f"{station_id}: not in its list: {', '.join(missing)}")
    entries = dict(base.entries) | put
    for token in drop:
        entries.pop(token, None)
    return base.model_copy(update={"entries": entries, "version": base.version + 1})


def check_lengths(station_id: str, version: OcppVersion,
                  entries: dict[str, LocalListEntry | None]) -> None:
    """TooLongForStation if a token or parent does not fit the version (1.6: 20)."""
    limit = max_id_token_length(version)
    too_long = sorted(token for token, entry in entries.items()
                      if len(token) > limit
                      or (entry is not None and len(entry.parent_id or "") > limit))
    if too_long:
        raise TooLongForStation(f"{station_id} speaks {version}, whose id tokens hold at most "
                                f"{limit} characters: {', '.join(too_long)}")


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
