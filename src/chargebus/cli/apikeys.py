"""`chargebus api-keys`: the keys of the HTTP API (chargebus.security.apikeys), made,
listed and revoked by the operator."""
import argparse
import sys

from chargebus.cli.common import print_json, sender, station_id, with_stores
from chargebus.ocpp.clock import utc_now
from chargebus.operations import audit
from chargebus.runtime.config import Settings
from chargebus.security import apikeys
from chargebus.state.records import ApiKey
from chargebus.state.stores import Stores

RESOURCE = "api-keys"


def register(commands) -> None:
    group = commands.add_parser("api-keys", help="keys of the HTTP API").add_subparsers(
        title="api-keys")
    add = group.add_parser("add", help="make a key; it is shown this once")
    add.add_argument("name", type=_name)
    add.add_argument("--scope", choices=[scope.word for scope in apikeys.Scope],
                     required=True, help="read; operate (and read); admin (and operate)")
    add.add_argument("--sites", type=_names, default=[],
                     help="only the stations of these sites, A,B")
    add.add_argument("--stations", type=_stations, default=[],
                     help="only these stations, A,B (with --sites: those too)")
    add.set_defaults(command=_add)
    listing = group.add_parser("list", help="the keys, without their secrets")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(command=_list)
    revoke = group.add_parser("revoke", help="revoke a key, by its id or name")
    revoke.add_argument("key")
    revoke.set_defaults(command=_revoke)


def _name(text: str) -> str:
    if not apikeys.NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"a key's name is {apikeys.NAME_RULE}")
    return text


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _stations(text: str) -> list[str]:
    return [station_id(part) for part in _names(text)]


def _add(settings: Settings, arguments: argparse.Namespace) -> int:
    async def add(stores: Stores, nc) -> int:
        if any(key.name == arguments.name and key.revoked_at is None
               for key in await stores.api_keys.all()):
            print(f"chargebus api-keys add: a key named {arguments.name} exists (revoke it "
                  "first, or choose another name)", file=sys.stderr)
            return 2
        record, text = apikeys.issue(arguments.name, apikeys.Scope.of(arguments.scope),
                                     utc_now(), sender(), arguments.sites, arguments.stations)
        await stores.api_keys.put(record, record.key_id)
        await audit.record_change(nc.jetstream(), audit.change(
            sender(), RESOURCE, "add", record.key_id,
            record.model_dump(mode="json", exclude={"secret_sha256"})))
        print(text)
        print(f"{record.name} ({record.key_id}): {record.scope}"
              f"{_reach(record)}. The key is shown this once; chargebus keeps only its hash.",
              file=sys.stderr)
        return 0

    return with_stores(settings, add)


def _reach(record: ApiKey) -> str:
    parts = ([f"sites {', '.join(record.sites)}"] if record.sites else []) + (
        [f"stations {', '.join(record.stations)}"] if record.stations else [])
    return f", only {' and '.join(parts)}" if parts else ""


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        for record in sorted(await stores.api_keys.all(), key=lambda key: key.created_at):
            if arguments.json:
                print_json(record.model_dump(mode="json", exclude={"secret_sha256"}))
                continue
            state = (f"revoked {record.revoked_at.isoformat(timespec='seconds')}"
                     if record.revoked_at else "active")
            print(f"{record.key_id}  {record.name:<20} {record.scope:<8} {state}"
                  f"{_reach(record)}")
        return 0

    return with_stores(settings, show)


def _revoke(settings: Settings, arguments: argparse.Namespace) -> int:
    async def revoke(stores: Stores, nc) -> int:
        chosen = [key for key in await stores.api_keys.all()
                  if arguments.key in (key.key_id, key.name) and key.revoked_at is None]
        if not chosen:
            print(f"chargebus api-keys revoke: no active key {arguments.key}", file=sys.stderr)
            return 2
        now = utc_now()
        for key in chosen:
            await stores.api_keys.modify(
                lambda record: record.model_copy(update={"revoked_at": now})
                if record and record.revoked_at is None else None, key.key_id)
            await audit.record_change(nc.jetstream(), audit.change(sender(), RESOURCE,
                                                                   "revoke", key.key_id))
            print(f"{key.key_id} ({key.name}) revoked")
        return 0

    return with_stores(settings, revoke)
