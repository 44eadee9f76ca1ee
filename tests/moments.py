"""Moments relative to now, for the times a test sends to a running chargebus. The
system compares them with its clock (a transaction silent for 48 hours is closed by
rule, a station without samples for an hour is silent, a token past its expiry is
Expired), so a fixed date would make a test's outcome depend on the day it runs."""
from datetime import datetime, timedelta

from chargebus.ocpp.clock import ocpp_timestamp, utc_now


def ago(**span: float) -> datetime:
    """Now less the span (timedelta's keywords), to the whole second as stations write it."""
    return utc_now().replace(microsecond=0) - timedelta(**span)


def ahead(**span: float) -> datetime:
    return utc_now().replace(microsecond=0) + timedelta(**span)


def yesterday() -> datetime:
    """The midnight (UTC) that began yesterday: a whole day, all of it past, for the
    analytics by day."""
    return utc_now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def stamp(moment: datetime) -> str:
    """As OCPP writes it: RFC 3339 in UTC with a Z."""
    return ocpp_timestamp(moment)


def clickhouse_text(moment: datetime) -> str:
    """As ClickHouse's toString shows a DateTime in UTC, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")
