"""`chargebus locallist`: each station's local authorization list."""
import argparse
import sys

import orjson
from nats.aio.client import Client

from chargebus.cli.common import (print_json, seconds, sender, station_id, timestamp,
                                  token_id, with_stores)
from chargebus.domain.locallists import NotInList, TooLongForStation
from chargebus.domain.model import AuthorizationStatus, TokenType
from chargebus.operations.commands import DEFAULT_TIMEOUT
from chargebus.operations.locallists import (NoVersionKnown, WouldEmptyStation, edit_entries,
                                             held_version, send)
from chargebus.runtime.config import Settings
from chargebus.state.records import LocalListEntry
from chargebus.state.stores import Stores


def register(commands) -> None:
    lists = commands.add_parser("locallist", help="manage stations' local authorization lists"
                                ).add_subparsers(title="locallist")
    add = lists.add_parser("add", help="add or change tokens in a station's list")
    add.add_argument("station_id", type=station_id)
    add.add_argument("id_tokens", nargs="+", type=token_id)
    add.add_argument("--status", default="Accepted",
                     choices=[status.value for status in AuthorizationStatus])
    add.add_argument("--expires", type=timestamp)
    add.add_argument("--parent", type=token_id)
    add.add_argument("--type", choices=[kind.value for kind in TokenType])
    add.set_defaults(command=_edit, removing=False)
    remove = lists.add_parser("remove", help="remove tokens from a station's list")
    remove.add_argument("station_id", type=station_id)
    remove.add_argument("id_tokens", nargs="+", type=token_id)
    remove.set_defaults(command=_edit, removing=True)
    show = lists.add_parser("show", help="the list, its version and what the station confirmed")
    show.add_argument("station_id", type=station_id)
    show.set_defaults(command=_show)
    send = lists.add_parser("send", help="send the list to the station (SendLocalList): the "
                            "changes since it last confirmed one, or all of it with --full")
    send.add_argument("station_id", type=station_id)
    send.add_argument("--full", action="store_true",
                      help="the whole list, replacing what the station holds (an empty one "
                           "empties it)")
    send.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    send.set_defaults(command=_send)
    version = lists.add_parser("version", help="ask the station which list version it holds "
                               "(GetLocalListVersion)")
    version.add_argument("station_id", type=station_id)
    version.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    version.set_defaults(command=_version)


def _edit(settings: Settings, arguments: argparse.Namespace) -> int:
    put, drop = {}, []
    if arguments.removing:
        drop = arguments.id_tokens
    else:
        entry = LocalListEntry(status=arguments.status, expires_at=arguments.expires,
                               parent_id=arguments.parent, type=arguments.type)
        put = dict.fromkeys(arguments.id_tokens, entry)

    async def edit_list(stores: Stores, nc: Client) -> int:
        try:
            changed = await edit_entries(stores, nc.jetstream(), arguments.station_id, put,
                                         drop, sender())
        except TooLongForStation as error:
            print(f"chargebus locallist add: {error}", file=sys.stderr)
            return 2
        except NotInList as error:
            print(f"chargebus locallist remove: {error} (nothing removed)", file=sys.stderr)
            return 1
        print(f"{arguments.station_id}: list version {changed.version}, "
              f"{len(changed.entries)} tokens (send it with `chargebus locallist send`)")
        return 0

    return with_stores(settings, edit_list)


def _show(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc: Client) -> int:
        local_list = await stores.local_lists.get(arguments.station_id)
        if local_list is None:
            print(f"{arguments.station_id} has no local list", file=sys.stderr)
            return 1
        print_json(local_list.model_dump(mode="json"))
        return 0

    return with_stores(settings, show)


def _send(settings: Settings, arguments: argparse.Namespace) -> int:
    async def send_list(stores: Stores, nc: Client) -> int:
        try:
            outcome = await send(nc, stores, arguments.station_id, arguments.full,
                                 arguments.timeout)
        except (NoVersionKnown, TooLongForStation) as error:
            print(f"chargebus locallist send: {error}", file=sys.stderr)
            return 1
        except WouldEmptyStation as error:
            print(f"chargebus locallist send: {error}; give --full to do that", file=sys.stderr)
            return 2
        kind = "full" if outcome.full else "differential"
        if outcome.accepted:
            print(f"{arguments.station_id}: {kind} list version {outcome.version} accepted")
            return 0
        reply = outcome.reply
        print(f"{arguments.station_id}: {kind} list version {outcome.version} not accepted: "
              f"{reply.outcome.value} {orjson.dumps(reply.body).decode()}"
              + (" (send it with --full)" if reply.body.get("status") == "VersionMismatch"
                 else ""), file=sys.stderr)
        return 1

    return with_stores(settings, send_list)


def _version(settings: Settings, arguments: argparse.Namespace) -> int:
    async def ask(stores: Stores, nc: Client) -> int:
        try:
            reply, version = await held_version(nc, stores, arguments.station_id,
                                                arguments.timeout)
        except NoVersionKnown as error:
            print(f"chargebus locallist version: {error}", file=sys.stderr)
            return 1
        if version is None:
            print(f"{reply.outcome.value}: {orjson.dumps(reply.body).decode()}", file=sys.stderr)
            return 1
        print(version)
        return 0

    return with_stores(settings, ask)
