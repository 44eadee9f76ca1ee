"""`chargebus tokens`: the id tokens stations present."""
import argparse
import csv
import io
import sys
from typing import Any

from pydantic import ValidationError

from chargebus.cli.common import print_json, timestamp, token_id, whole_number, with_stores
from chargebus.domain.model import AuthorizationStatus, TokenType
from chargebus.ocpp import OcppVersion, max_id_token_length
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings
from chargebus.state.records import Token
from chargebus.state.stores import Stores, token_key

CSV_COLUMNS = ("id_token", "status", "expires_at", "parent_id", "type", "max_active")
# 0 is no limit (chargebus.domain.sessions); a negative number would refuse every transaction.
MAX_ACTIVE = whole_number(0)
# The cells read the way the options of `tokens add` are.
_CELL_TYPES = {"id_token": token_id, "parent_id": token_id, "expires_at": timestamp,
               "max_active": MAX_ACTIVE}
# A token for 2.x stations may be longer than a 1.6 idTag: kept, with a warning.
_MAX_16 = max_id_token_length(OcppVersion.V16)
_LONG_TOKEN = (f"longer than {_MAX_16} characters: OCPP 1.6 stations cannot present it, "
               "only 2.x ones")
_LONG_PARENT = (f"its parent is longer than {_MAX_16} characters: an OCPP 1.6 station "
                "that presents it is answered InternalError")
_LINES_SHOWN = 10


def register(commands) -> None:
    tokens = commands.add_parser("tokens", help="manage id tokens").add_subparsers(title="tokens")
    add = tokens.add_parser("add", help="add or replace a token")
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
        change = tokens.add_parser(name, help=help_text)
        change.add_argument("id_token", type=token_id)
        change.set_defaults(command=_change, change=name)
    listing = tokens.add_parser("list", help="list tokens as JSON lines")
    listing.set_defaults(command=_list)
    load = tokens.add_parser("import", help="add or replace tokens from a CSV file (UTF-8) "
                             f"with a header of {', '.join(CSV_COLUMNS)} (id_token required)")
    load.add_argument("file", type=argparse.FileType("rb"))
    load.set_defaults(command=_import)


def _add(settings: Settings, arguments: argparse.Namespace) -> int:
    token = Token(id_token=arguments.id_token, status=arguments.status,
                  expires_at=arguments.expires, parent_id=arguments.parent, type=arguments.type,
                  max_active=arguments.max_active)

    async def add(stores: Stores, nc) -> None:
        await stores.tokens.put(token, token_key(token.id_token))
        print(f"token {token.id_token}: {token.status.value}")
        if warning := _warning_for_16(token):
            print(f"warning: token {token.id_token}: {warning}", file=sys.stderr)

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
        assert token is not None  # there a moment ago
        print(f"token {token.id_token}: {token.status.value}"
              + (f", expired at {token.expires_at.isoformat()}"
                 if "expires_at" in update and token.expires_at else ""))
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
        # utf-8-sig: spreadsheet programs begin a UTF-8 CSV with a byte order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        print(f"{name}: line {line} is not UTF-8 (byte {data[error.start]:#04x}); save the "
              "file as CSV UTF-8", file=sys.stderr)
        return 2
    tokens, problems = read_csv(io.StringIO(text, newline=""))
    if problems:
        for problem in problems:
            print(f"{name}: {problem}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 2

    async def load(stores: Stores, nc) -> None:
        for token in tokens.values():
            await stores.tokens.put(token, token_key(token.id_token))
        print(f"imported {len(tokens)} tokens")
        lines_of: dict[str, list[int]] = {}
        for line, token in tokens.items():
            if warning := _warning_for_16(token):
                lines_of.setdefault(warning, []).append(line)
        for warning, lines in lines_of.items():
            shown = ", ".join(map(str, lines[:_LINES_SHOWN])) + (
                ", ..." if len(lines) > _LINES_SHOWN else "")
            print(f"warning: {len(lines)} tokens (lines {shown}): {warning}", file=sys.stderr)

    return with_stores(settings, load)


def read_csv(lines) -> tuple[dict[int, Token], list[str]]:
    """The tokens by the line they are on, and what is wrong with the others."""
    reader = csv.DictReader(lines)
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if "id_token" not in (reader.fieldnames or ()) or unknown:
        return {}, [f"line 1: the header must name id_token and only {', '.join(CSV_COLUMNS)}"
                    + (f" (not {', '.join(sorted(unknown))})" if unknown else "")]
    tokens: dict[int, Token] = {}
    problems: list[str] = []
    line_of_key: dict[str, int] = {}
    for row in reader:
        fields: dict[str, Any] = {name: value.strip() for name, value in row.items()
                  if name in CSV_COLUMNS and value and value.strip()}
        try:
            for name, convert in _CELL_TYPES.items():
                if name in fields:
                    fields[name] = convert(fields[name])
            token = Token(**fields)
        except argparse.ArgumentTypeError as error:
            problems.append(f"line {reader.line_num}: {name}: {error}")
            continue
        except ValidationError as error:
            problems.append(f"line {reader.line_num}: " + "; ".join(
                f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()))
            continue
        key = token_key(token.id_token)  # the same token to OCPP, whatever the case
        if key in line_of_key:
            problems.append(f"line {reader.line_num}: {token.id_token} is on line "
                            f"{line_of_key[key]} too")
            continue
        line_of_key[key] = reader.line_num
        tokens[reader.line_num] = token
    return tokens, problems


def _warning_for_16(token: Token) -> str | None:
    if len(token.id_token) > _MAX_16:
        return _LONG_TOKEN
    if token.parent_id is not None and len(token.parent_id) > _MAX_16:
        return _LONG_PARENT
    return None
