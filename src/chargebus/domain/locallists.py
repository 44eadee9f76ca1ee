"""Local authorization lists as chargebus keeps them: edits, differences, limits."""
from collections.abc import Mapping

from chargebus.ocpp import OcppVersion, max_id_token_length
from chargebus.state.records import LocalList, LocalListEntry


class NotInList(Exception):
    """Tokens to remove that the list does not hold: the list is left as it was."""


class TooLongForStation(Exception):
    """Tokens (or their parents) longer than the station's OCPP version carries."""


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
                  entries: Mapping[str, LocalListEntry | None]) -> None:
    """TooLongForStation if a token or parent does not fit the version (1.6: 20)."""
    limit = max_id_token_length(version)
    too_long = sorted(token for token, entry in entries.items()
                      if len(token) > limit
                      or (entry is not None and len(entry.parent_id or "") > limit))
    if too_long:
        raise TooLongForStation(f"{station_id} speaks {version}, whose id tokens hold at most "
                                f"{limit} characters: {', '.join(too_long)}")
