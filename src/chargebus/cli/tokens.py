"""`chargebus tokens`: the id tokens stations present."""
import argparse
import sys

from chargebus.cli.common import print_json, sender, timestamp, token_id, whole_number, with_stores
from chargebus.domain.model import AuthorizationStatus, TokenType
from chargebus.manage import tokens
from chargebus.manage.tokens import CSV_COLUMNS
from chargebus.runtime.config import Settings
from chargebus.state.records import Token
from chargebus.state.stores import Stores

MAX_ACTIVE = whole_number(0)
_LINES_SHOWN = 10


def register(commands) -> None:
    group = commands.add_parser("tokens", help="manage id tokens").add_subparsers(title="tokens")
    add = group.add_parser("add", help="add or replace a token")
    add.add_argument("id_token", type=token_id)
    add.add_argument("--status", default="Accepted",
                     choices=[status.value for status in AuthorizationStatus])
    add.add_argument("--expires", type=timestamp, help="RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z")
    add.add_argument("--parent", type=token_id, help="parent (1.6) or group (2.x) id token")
    add.add_argument("--type", choices=[kind.value for kind in TokenType],
                     help="2.x token type (default: any)")
    add.add_argument("--max-active", type=MAX_ACTIVE, default=1,
                     help="transactions it may have at once, 0 for no limit (default 1)")
    add.set_defaults(command=_add)
    for name, help_text in (("block", "block a token"), ("expire", "let a token expire now"),
                            ("delete", "delete a token")):
        change = group.add_parser(name, help=help_text)
        change.add_argument("id_token", type=token_id)
        change.set_defaults(command=_change, change=name)
    listing = group.add_parser("list", help="list tokens as JSON lines")
    listing.set_defaults(command=_list)
    load = group.add_parser("import", help="add or replace tokens from a CSV file (UTF-8) "
                             f"with a header of {', '.join(CSV_COLUMNS)} (id_token required)")
    load.add_argument("file", type=argparse.FileType("rb"))
    load.set_defaults(command=_import)


def _add(settings: Settings, arguments: argparse.Namespace) -> int:
    token = Token(id_token=arguments.id_token, status=arguments.status,
                  expires_at=arguments.expires, parent_id=arguments.parent, type=arguments.type,
                  max_active=arguments.max_active)

    async def add(stores: Stores, nc) -> None:
        await tokens.put(stores, nc.jetstream(), token, sender())
        print(f"token {token.id_token}: {token.status.value}")
        if warning := tokens.warning_for_16(token):
            print(f"warning: token {token.id_token}: {warning}", file=sys.stderr)

    return with_stores(settings, add)


def _change(settings: Settings, arguments: argparse.Namespace) -> int:
    async def change(stores: Stores, nc) -> int:
        js = nc.jetstream()
        if arguments.change == "delete":
            done = await tokens.delete(stores, js, arguments.id_token, sender())
            if done:
                print(f"token {arguments.id_token}: deleted")
            token = None
        else:
            token = await tokens.change(stores, js, arguments.id_token, arguments.change,
                                        sender())
            done = token is not None
        if not done:
            print(f"chargebus tokens {arguments.change}: no token {arguments.id_token}",
                  file=sys.stderr)
            return 1
        if token is not None:
            print(f"token {token.id_token}: {token.status.value}"
                  + (f", expired at {token.expires_at.isoformat()}"
                     if arguments.change == "expire" and token.expires_at else ""))
        return 0

    return with_stores(settings, change)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores, nc) -> None:
        for token in await stores.tokens.all():
            print_json(token.model_dump(mode="json"))

    return with_stores(settings, listing)


def _import(settings: Settings, arguments: argparse.Namespace) -> int:
    """All or nothing: a file with one bad line imports no token and names the lines."""
    name, data = arguments.file.name, arguments.file.read()
    try:
        read = tokens.read_csv(tokens.decode_csv(data))
    except tokens.CsvProblems as problems:
        for problem in problems.problems:
            print(f"{name}: {problem}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2

    async def load(stores: Stores, nc) -> None:
        warnings = await tokens.import_all(stores, nc.jetstream(), read, sender())
        print(f"imported {len(read)} tokens")
        for warning, lines in warnings.items():
            shown = ", ".join(map(str, lines[:_LINES_SHOWN])) + (
                ", ..." if len(lines) > _LINES_SHOWN else "")
            print(f"warning: {len(lines)} tokens (lines {shown}): {warning}", file=sys.stderr)

    return with_stores(settings, load)
