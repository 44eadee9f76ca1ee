"""What a read-only query (chargebus sql, the analytics) may do, as ClickHouse enforces it.

A query runs with readonly=1: ClickHouse refuses writes, DDL, changing any setting (so
a query cannot lift its own limits, neither with SET nor with SETTINGS inline) and the
table functions that reach files, URLs or other servers (file, url, remote, s3, mysql,
executable...). chdb (26.x) still allows the harmless ones (numbers, values, view, merge);
a server of 18.16 refuses every table function under readonly=1. On a server the
settings come from the query user's profile (a readonly=1 profile takes no settings
from the client), which the sink checks before each query; chdb takes them per query.
"""
import re
from dataclasses import dataclass

from chargebus.runtime.config import Settings, variable

# ClickHouse's error codes for its protections and for the limits below.
_REFUSING_CODES = {
    164,  # READONLY
    358,  # INTO_OUTFILE_NOT_ALLOWED
    392,  # QUERY_IS_PROHIBITED (allow_ddl=0)
    497,  # ACCESS_DENIED
}
_CODE = re.compile(r"Code: (\d+)")
# 18.16 over HTTP: "Code: 164, e.displayText() = DB::Exception: ..., e.what() = DB::Exception"
_DISPLAY_TEXT = re.compile(r"e\.displayText\(\) = (.*?)(?:, e\.what\(\) = .*)?$", re.DOTALL)


class QueryRefused(ValueError):
    """ClickHouse's protection (or the statement check on chdb) refused the query."""


class QueryOverLimit(ValueError):
    """The query ran into one of the limits, which the message names."""


class QueryUserUnsafe(RuntimeError):
    """The server's query user lets a query do more than the limits allow."""


@dataclass(frozen=True, slots=True)
class QueryLimits:
    seconds: int
    memory_bytes: int
    rows: int
    threads: int

    @classmethod
    def of(cls, settings: Settings) -> "QueryLimits":
        return cls(seconds=settings.query_timeout_seconds,
                   memory_bytes=settings.query_max_memory_bytes,
                   rows=settings.query_max_rows, threads=settings.query_max_threads)

    @classmethod
    def defaults(cls) -> "QueryLimits":
        """Those of Settings' defaults, whatever the environment says."""
        return cls.of(Settings.model_construct())

    def profile(self) -> dict[str, str]:
        """The ClickHouse settings a query runs under. readonly comes last: once it is
        set, no other setting may change."""
        return {
            "max_execution_time": str(self.seconds),
            "max_memory_usage": str(self.memory_bytes),
            "max_result_rows": str(self.rows),
            "result_overflow_mode": "throw",
            "max_threads": str(self.threads),
            # UInt64 and Int64 as JSON numbers, as chdb answers them; 18.16 quotes them.
            "output_format_json_quote_64bit_integers": "0",
            "allow_ddl": "0",
            "readonly": "1",
        }

    def check_server_profile(self, user: str, effective: dict[str, str]) -> None:
        """QueryUserUnsafe unless the server's query user runs queries under readonly=1
        with limits no looser than these: that user's profile holds them, since a
        readonly=1 profile takes no settings from the client."""
        wanted = self.profile()
        problems = []
        for name, value in wanted.items():
            found = effective.get(name, "(unknown)")
            if name in _BOUND_BY:
                number = _number(found)
                if number is None or number == 0 or number > int(value):
                    problems.append(f"{name} is {found}, at most {value} "
                                    f"({variable(_BOUND_BY[name])})")
            elif found != value:
                problems.append(f"{name} is {found}, not {value}")
        if problems:
            raise QueryUserUnsafe(
                f"queries are not answered: the ClickHouse user {user!r} "
                f"({variable('clickhouse_query_user')}) must have a profile with "
                + "; ".join(problems) + " (README, Queries)")

    def breach(self, code: int) -> str | None:
        """Which limit a ClickHouse error code says the query ran into, if any."""
        limit = {159: ("max_execution_time", f"{self.seconds} s", "query_timeout_seconds"),
                 241: ("max_memory_usage", f"{self.memory_bytes} bytes",
                       "query_max_memory_bytes"),
                 396: ("max_result_rows", f"{self.rows} rows", "query_max_rows")}.get(code)
        if limit is None:
            return None
        name, value, field = limit
        return f"over {name} ({value}, {variable(field)})"

    def error(self, text: str) -> Exception:
        """ClickHouse's error text as QueryRefused, QueryOverLimit or, for anything
        else (a syntax error, an unknown table), RuntimeError."""
        text = text.strip().removeprefix("Streaming query failed: ")
        shown = _DISPLAY_TEXT.search(text)
        message = shown[1].strip() if shown else text.splitlines()[0] if text else "no reason"
        code = int(found[1]) if (found := _CODE.search(text)) else None
        if code in _REFUSING_CODES:
            return QueryRefused(f"ClickHouse refused the query: {message}")
        breach = self.breach(code) if code is not None else None
        if breach:
            return QueryOverLimit(f"the query went {breach}: {message}")
        return RuntimeError(message)


# The limits a server profile may set lower than chargebus's, and their settings.
_BOUND_BY = {"max_execution_time": "query_timeout_seconds",
             "max_memory_usage": "query_max_memory_bytes",
             "max_result_rows": "query_max_rows",
             "max_threads": "query_max_threads"}


def _number(value: str) -> int | None:
    """A setting's value as a number: 18.16 shows max_threads as 'auto(2)' or '2'."""
    digits = re.search(r"\d+", value)
    return int(digits[0]) if digits else None
