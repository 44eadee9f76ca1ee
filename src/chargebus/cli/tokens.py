"""`chargebus tokens`: the id tokens stations present."""
import argparse
import csv
import sys

from pydantic import ValidationError

from chargebus.cli.common import print_json, timestamp, with_stores
from chargebus.clock import parse_timestamp, utc_now
from chargebus.config import Settings
from chargebus.model import AuthorizationStatus, TokenType
from chargebus.records import Token
from chargebus.stores import Stores, token_key

CSV_COLUMNS = ("id_token", "status", "expires_at", "parent_id", "type", "max_active")


def register(commands) -> None:
    tokens = commands.add_parser("tokens", help="manage id tokens").add_subparsers(title="tokens")
    add = tokens.add_parser("add", help="add or replace a token")
    add.add_argument("id_token")
    add.add_argument("--status", default="Accepted",
                     choices=[status.value for status in AuthorizationStatus])
    add.add_argument("--expires", type=timestamp, help="RFC 3339 expiry, e.g. 2027-01-01T00:00:00Z")
    add.add_argument("--parent", help="parent (1.6) or group (2.x) id token")
    add.add_argument("--type", choices=[kind.value for kind in TokenType],
                     help="2.x token type (default: any)")
    add.add_argument("--max-active", type=int, default=1,
                     help="transactions it may have at once, 0 for no limit (default 1)")
    add.set_defaults(command=_add)
    for name, help_text in (("block", "block a token"), ("expire", "let a token expire now"),
                            ("delete", "delete a token")):
        change = tokens.add_parser(name, help=help_text)
        change.add_argument("id_token")
        change.set_defaults(command=_change, change=name)
    listing = tokens.add_parser("list", help="list tokens as JSON lines")
    listing.set_defaults(command=_list)
    load = tokens.add_parser("import", help="add or replace tokens from a CSV file "
                             f"with a header of {', '.join(CSV_COLUMNS)} (id_token required)")
    load.add_argument("file", type=argparse.FileType("r", encoding="utf-8"))
    load.set_defaults(command=_import)


def _add(settings: Settings, arguments: argparse.Namespace) -> int:
    token = Token(id_token=arguments.id_token, status=arguments.status,
                  expires_at=arguments.expires, parent_id=arguments.parent, type=arguments.type,
                  max_active=arguments.max_active)

    async def add(stores: Stores, nc) -> None:
        await stores.tokens.put(token, token_key(token.id_token))
        print(f"token {token.id_token}: {token.status.value}")

    return with_stores(settings, add)


def _change(settings: Settings, arguments: argparse.Namespace) -> int:
    key = token_key(arguments.id_token)

    async def change(stores: Stores, nc) -> int:
        if await stores.tokens.get(key) is None:
            print(f"chargebus tokens {arguments.change}: no token {arguments.id_token}",
                  file=sys.stderr)
            return 1
        if arguments.change == "delete":
            await stores.tokens.delete(key)
            print(f"token {arguments.id_token}: deleted")
            return 0
        update = ({"status": AuthorizationStatus.BLOCKED} if arguments.change == "block"
                  else {"expires_at": utc_now()})
        token = await stores.tokens.modify(
            lambda current: current.model_copy(update=update) if current else None, key)
        print(f"token {token.id_token}: {token.status.value}"
              + (f", expired at {token.expires_at.isoformat()}" if "expires_at" in update else ""))
        return 0

    return with_stores(settings, change)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores, nc) -> None:
        for token in await stores.tokens.all():
            print_json(token.model_dump(mode="json"))

    return with_stores(settings, listing)


def _import(settings: Settings, arguments: argparse.Namespace) -> int:
    """All or nothing: a file with one bad line imports no token and names the lines."""
    tokens, problems = read_csv(arguments.file)
    if problems:
        for problem in problems:
            print(f"{arguments.file.name}: {problem}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 1

    async def load(stores: Stores, nc) -> None:
        for token in tokens:
            await stores.tokens.put(token, token_key(token.id_token))
        print(f"imported {len(tokens)} tokens")

    return with_stores(settings, load)


def read_csv(lines) -> tuple[list[Token], list[str]]:
    reader = csv.DictReader(lines)
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if "id_token" not in (reader.fieldnames or ()) or unknown:
        return [], [f"line 1: the header must name id_token and only {', '.join(CSV_COLUMNS)}"
                    + (f" (not {', '.join(sorted(unknown))})" if unknown else "")]
    tokens, problems = [], []
    for row in reader:
        fields = {name: value.strip() for name, value in row.items()
                  if name in CSV_COLUMNS and value and value.strip()}
        try:
            if "expires_at" in fields:
                fields["expires_at"] = parse_timestamp(fields["expires_at"])
            tokens.append(Token(**fields))
        except (ValidationError, ValueError) as error:
            reason = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}"
                               for item in error.errors()) if isinstance(
                error, ValidationError) else str(error)
            problems.append(f"line {reader.line_num}: {reason}")
    return tokens, problems
