"""Time as OCPP writes it: RFC 3339 in UTC with a Z."""
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator


def utc_now() -> datetime:
    return datetime.now(UTC)


def ocpp_timestamp(moment: datetime | None = None) -> str:
    moment = (moment or utc_now()).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """An OCPP date-time as an aware datetime; a value without offset is taken as UTC.
    ValueError where it is no time, or one that UTC cannot hold (0001-01-01T00:00+01:00)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of the range of UTC times") from None


def _moment(value: object) -> object:
    """A datetime as given, or RFC 3339 text: never a number, which pydantic would
    otherwise read as seconds since 1970."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            raise ValueError(f"not an RFC 3339 time: {value!r}") from None
    raise ValueError("an RFC 3339 time, as text")


# A field or parameter that takes a time from outside (the HTTP API's bodies and queries).
Moment = Annotated[datetime, BeforeValidator(_moment)]
