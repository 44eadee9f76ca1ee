"""The id tokens stations present: added, changed, deleted and imported from CSV, with
the checks and warnings of both the command line and the HTTP API, and each change in
the trail of changes (chargebus.operations.audit)."""
import csv
import io
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from nats.js import JetStreamContext
from pydantic import ValidationError

from chargebus.domain.model import AuthorizationStatus
from chargebus.ocpp import OcppVersion, max_id_token_length
from chargebus.ocpp.clock import parse_timestamp, utc_now
from chargebus.operations import audit
from chargebus.state.identifiers import TOKEN_ID_RULE, InvalidIdentifier, check_token_id
from chargebus.state.records import Token
from chargebus.state.stores import Stores, token_key

RESOURCE = "tokens"
CSV_COLUMNS = ("id_token", "status", "expires_at", "parent_id", "type", "max_active")
# A token for 2.x stations may be longer than a 1.6 idTag: kept, with a warning.
_MAX_16 = max_id_token_length(OcppVersion.V16)
LONG_TOKEN = (f"longer than {_MAX_16} characters: OCPP 1.6 stations cannot present it, "
              "only 2.x ones")
LONG_PARENT = (f"its parent is longer than {_MAX_16} characters: an OCPP 1.6 station "
               "that presents it is answered InternalError")

Change = Literal["block", "expire"]


class CsvProblems(ValueError):
    """What is wrong with a CSV file of tokens, a line each; nothing of it was imported."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def token_id(text: str) -> str:
    try:
        return check_token_id(text)
    except InvalidIdentifier:
        raise ValueError(
            f"not a valid token id: {text!r} (a token id is {TOKEN_ID_RULE})") from None


def max_active(text: str) -> int:
    """0 is no limit (chargebus.domain.sessions); a negative number would refuse every
    transaction."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"a whole number of at least 0, not {text!r}")
    return value


def _timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None


# The cells read the way the options of `tokens add` are.
_CELL_TYPES: dict[str, Callable[[str], Any]] = {
    "id_token": token_id, "parent_id": token_id, "expires_at": _timestamp,
    "max_active": max_active}


def warning_for_16(token: Token) -> str | None:
    if len(token.id_token) > _MAX_16:
        return LONG_TOKEN
    if token.parent_id is not None and len(token.parent_id) > _MAX_16:
        return LONG_PARENT
    return None


async def put(stores: Stores, js: JetStreamContext, token: Token, sender: str) -> None:
    """Add or replace a token."""
    token_id(token.id_token)
    if token.parent_id is not None:
        token_id(token.parent_id)
    await stores.tokens.put(token, token_key(token.id_token))
    await audit.record_change(js, audit.change(sender, RESOURCE, "put", token.id_token,
                                               token.model_dump(mode="json")))


async def change(stores: Stores, js: JetStreamContext, id_token: str, what: Change,
                 sender: str) -> Token | None:
    """Block a token or let it expire now; None where there is no such token."""
    update = ({"status": AuthorizationStatus.BLOCKED} if what == "block"
              else {"expires_at": utc_now()})
    key = token_key(id_token)
    if await stores.tokens.get(key) is None:
        return None
    token = await stores.tokens.modify(
        lambda current: current.model_copy(update=update) if current else None, key)
    if token is not None:
        await audit.record_change(js, audit.change(sender, RESOURCE, what, token.id_token))
    return token


async def delete(stores: Stores, js: JetStreamContext, id_token: str, sender: str) -> bool:
    """Delete a token; False where there was none."""
    key = token_key(id_token)
    token = await stores.tokens.get(key)
    if token is None:
        return False
    await stores.tokens.delete(key)
    await audit.record_change(js, audit.change(sender, RESOURCE, "delete", token.id_token))
    return True


def decode_csv(data: bytes) -> str:
    """The text of a CSV file; ValueError naming the line that is not UTF-8."""
    try:
        # utf-8-sig: spreadsheet programs begin a UTF-8 CSV with a byte order mark.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ValueError(f"line {line} is not UTF-8 (byte {data[error.start]:#04x}); save "
                         "the file as CSV UTF-8") from None


def read_csv(text: str) -> dict[int, Token]:
    """The tokens by the line they are on; CsvProblems naming every bad line."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if "id_token" not in (reader.fieldnames or ()) or unknown:
        raise CsvProblems([
            f"line 1: the header must name id_token and only {', '.join(CSV_COLUMNS)}"
            + (f" (not {', '.join(sorted(unknown))})" if unknown else "")])
    tokens: dict[int, Token] = {}
    problems: list[str] = []
    line_of_key: dict[str, int] = {}
    for row in reader:
        fields: dict[str, Any] = {name: value.strip() for name, value in row.items()
                                  if name in CSV_COLUMNS and value and value.strip()}
        name = ""
        try:
            for name, convert in _CELL_TYPES.items():
                if name in fields:
                    fields[name] = convert(fields[name])
            token = Token(**fields)
        except ValidationError as error:
            problems.append(f"line {reader.line_num}: " + "; ".join(
                f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()))
            continue
        except ValueError as error:
            problems.append(f"line {reader.line_num}: {name}: {error}")
            continue
        key = token_key(token.id_token)  # the same token to OCPP, whatever the case
        if key in line_of_key:
            problems.append(f"line {reader.line_num}: {token.id_token} is on line "
                            f"{line_of_key[key]} too")
            continue
        line_of_key[key] = reader.line_num
        tokens[reader.line_num] = token
    if problems:
        raise CsvProblems(problems)
    return tokens


async def import_all(stores: Stores, js: JetStreamContext, tokens: dict[int, Token],
                     sender: str) -> dict[str, list[int]]:
    """Store the tokens read; the warnings, each with the lines it is about."""
    for token in tokens.values():
        await stores.tokens.put(token, token_key(token.id_token))
    await audit.record_change(js, audit.change(sender, RESOURCE, "import", None,
                                               {"tokens": len(tokens)}))
    return warnings_of(tokens.items())


def warnings_of(tokens: Iterable[tuple[int, Token]]) -> dict[str, list[int]]:
    lines_of: dict[str, list[int]] = {}
    for line, token in tokens:
        if warning := warning_for_16(token):
            lines_of.setdefault(warning, []).append(line)
    return lines_of
