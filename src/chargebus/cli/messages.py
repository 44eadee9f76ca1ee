"""`chargebus messages`: the messages 2.x stations show their drivers (SetDisplayMessage,
GetDisplayMessages with NotifyDisplayMessages, ClearDisplayMessage), and those chargebus
knows each station holds."""
import argparse
import sys

from chargebus.cli.common import print_json, station_id, timestamp, whole_number, with_stores
from chargebus.cli.operations import operation_command
from chargebus.domain.operations import (ClearDisplayMessage, DisplayMessage,
                                         GetDisplayMessages, SetDisplayMessage)
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores

MESSAGE_ID = whole_number(0)


def register(commands) -> None:
    group = commands.add_parser(
        "messages", help="messages 2.x stations show their drivers"
    ).add_subparsers(title="messages")
    show = operation_command(group, "set", "show a message (one of the same id is replaced)")
    show.add_argument("--id", type=MESSAGE_ID, required=True, dest="message_id")
    show.add_argument("--text", required=True, help="what it says")
    show.add_argument("--priority", default="NormalCycle",
                      help="AlwaysFront, InFront or NormalCycle (default)")
    show.add_argument("--format", default="UTF8", help="UTF8 (default), ASCII, HTML, URI; "
                                                       "2.1: QRCODE")
    show.add_argument("--language", help="RFC 5646, e.g. en or nl-BE")
    show.add_argument("--state", help="only while the station is Charging, Faulted, Idle "
                                      "or Unavailable")
    show.add_argument("--from", type=timestamp, dest="starts", help="RFC 3339")
    show.add_argument("--until", type=timestamp, dest="ends", help="RFC 3339")
    show.add_argument("--transaction", help="only during this transaction")
    show.set_defaults(build=lambda a: SetDisplayMessage(message=DisplayMessage(
        message_id=a.message_id, content=a.text, priority=a.priority, format=a.format,
        language=a.language, state=a.state, starts=a.starts, ends=a.ends,
        transaction_id=a.transaction)))

    clear = operation_command(group, "clear", "remove a message")
    clear.add_argument("message_id", type=MESSAGE_ID)
    clear.set_defaults(build=lambda a: ClearDisplayMessage(message_id=a.message_id))

    fetch = operation_command(group, "fetch", "the station reports the messages it holds "
                                              "(NotifyDisplayMessages), which chargebus keeps")
    fetch.add_argument("--id", type=MESSAGE_ID, action="append", default=[],
                       dest="message_ids", help="this message only (repeatable)")
    fetch.add_argument("--priority")
    fetch.add_argument("--state")
    fetch.set_defaults(build=lambda a: GetDisplayMessages(
        message_ids=a.message_ids, priority=a.priority, state=a.state))

    listing = group.add_parser("list", help="the messages chargebus knows a station holds")
    listing.add_argument("station_id", type=station_id)
    listing.add_argument("--refused", action="store_true",
                         help="also the latest the station refused")
    listing.add_argument("--json", action="store_true", help="each as a JSON line")
    listing.set_defaults(command=_list)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        record = await stores.messages.get(arguments.station_id)
        if record is None:
            print(f"chargebus messages list: chargebus knows no message of "
                  f"{arguments.station_id}", file=sys.stderr)
            return 1
        for stored in record.messages + (record.refused if arguments.refused else []):
            if arguments.json:
                print_json(stored.model_dump(mode="json", exclude_none=True))
                continue
            message = stored.message
            print(f"{message.message_id} {message.priority}"
                  + (f" while {message.state}" if message.state else "")
                  + f": {message.content!r} ({stored.status} from {stored.source} at "
                  f"{stored.at.isoformat(timespec='seconds')})")
        return 0

    return with_stores(settings, show)
