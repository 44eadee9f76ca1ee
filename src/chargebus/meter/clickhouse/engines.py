"""The two ways to ClickHouse: chdb in this process, or a server over its native protocol.

Both run the same SQL, take inserts as a dict of column lists, and answer queries as
column names and rows; both answer a read-only query from outside (query_rows) under
ClickHouse's own protection (chargebus.meter.clickhouse.querylimits).
"""
import http.client
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson

from chargebus.meter.clickhouse.querylimits import QueryLimits, QueryRefused, QueryUserUnsafe


class Engine(Protocol):
    version: tuple[int, ...]

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> tuple[list[str], list[tuple]]: ...

    def insert(self, table: str, columns: dict[str, list], times: tuple[str, ...] = ()) -> None:
        """Insert one column list per table column, in the table's order; the columns
        named in ``times`` hold Unix times in milliseconds."""

    def query_rows(self, sql: str, limits: QueryLimits) -> Generator[bytes, None, None]:
        """A query from outside, run read-only within ``limits``: its rows as JSON
        objects, one a line, in pieces of whole lines. QueryRefused, QueryOverLimit or
        QueryUserUnsafe where it may not run or was stopped; RuntimeError where it failed."""

    def close(self) -> None: ...


class EngineUnavailable(Exception):
    """ClickHouse cannot be reached or opened; what to do is in the message."""


# The first server version with DateTime64; before it, times are DateTime (seconds).
DATETIME64_SINCE = (20, 1)


def _moment(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def _second(milliseconds: int) -> int:
    return milliseconds // 1000


def with_database(url: str, database: str) -> str:
    """The same server's URL, naming another database."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


# The statements chdb answers from outside: what ClickHouse's parser classes as one
# read-only statement. INTO OUTFILE is CONTROL, as are SET, USE, KILL and SYSTEM.
_READ_ONLY_CLASS = "READ_ONLY"
# A ClickHouse server reports an error met after the first rows at the end of the
# answer, on a line of its own: the rows' lines all start with "{".
_SERVER_ERROR_LINE = re.compile(rb"(?m)^Code: \d+")


class ChdbEngine:
    """chdb: ClickHouse inside this process, its data in one folder that only one
    process may open. One statement at a time on its session: the session is not safe to
    share between threads, and its Python() table function finds the data by variable
    name on the calling thread's stack. Queries from outside run on connections of
    their own, beside it."""

    def __init__(self, path: Path):
        import chdb.session  # about 400 MB resident: only the process that owns the data

        path.mkdir(parents=True, exist_ok=True)
        self._path = str(path)
        self._lock = threading.Lock()
        try:
            self._session = chdb.session.Session(self._path)
        except Exception as error:
            raise EngineUnavailable(
                f"cannot open the chdb folder {path}: {error}\n"
                "Only one process may own it; is another chargebus sink running on it?"
            ) from None
        self.version = _version(self._session.query("SELECT version()", "CSV").bytes().decode())

    def execute(self, sql: str) -> None:
        with self._lock:
            self._session.query(sql)

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        with self._lock:
            answer = self._session.query(sql, "JSONCompact").bytes()
        result = orjson.loads(answer or b'{"meta":[],"data":[]}')
        return [column["name"] for column in result["meta"]], [tuple(row) for row in result["data"]]

    def query_rows(self, sql: str, limits: QueryLimits) -> Generator[bytes, None, None]:
        """On a chdb connection of its own (the same data, settings of its own), opened
        for this query with the limits' settings and readonly=1, so that the query
        cannot change them, and runs beside the sink's inserts."""
        import chdb

        connection = chdb.connect(f"{self._path}?{urlencode(limits.profile())}")
        try:
            # In chdb this process is ClickHouse's client too, and the client writes
            # INTO OUTFILE, which no setting forbids: ClickHouse's parser says what
            # the statement would do before anything runs. classify_query is bound on
            # the extension's connection, not on chdb's Python wrapper of it.
            report = connection._conn.classify_query(sql)
            kind = getattr(report["query_class"], "name", str(report["query_class"]))
            if report["statement_count"] != 1 or kind != _READ_ONLY_CLASS:
                raise QueryRefused(
                    "only one read-only statement is answered: ClickHouse's parser reads "
                    f"{report['statement_count']} statement(s), of class {kind} "
                    "(INTO OUTFILE, SET, USE, KILL and SYSTEM are CONTROL)")
            try:
                with connection.send_query(sql, "JSONEachRow") as stream:
                    for piece in stream:
                        yield piece.bytes()
            except RuntimeError as error:  # chdb's ChdbError
                raise limits.error(str(error)) from None
        finally:
            connection.close()

    def insert(self, table: str, columns: dict[str, list], times: tuple[str, ...] = ()) -> None:
        rows = columns  # noqa: F841  chdb's Python() table function reads this local by name
        select = ", ".join(f"fromUnixTimestamp64Milli({name}, 'UTC')" if name in times else name
                           for name in columns)
        with self._lock:
            self._session.query(f"INSERT INTO {table} ({', '.join(columns)}) "
                                f"SELECT {select} FROM Python(rows)")

    def execute_with_rows(self, sql: str, rows: dict[str, list]) -> None:
        """Runs ``sql``, in which Python(rows) is a table of these columns."""
        with self._lock:
            self._session.query(sql)

    def close(self) -> None:
        with self._lock:
            self._session.close()


class ServerEngine:
    """A ClickHouse server, e.g. clickhouse://127.0.0.1:9000/default?http_port=8123: its
    native protocol (clickhouse-driver) for statements and queries, its HTTP interface
    (8123 unless http_port says otherwise) for rows already in RowBinary and for queries
    from outside, which run as ``query_user``. One statement at a time on the native
    connection: a clickhouse-driver connection takes no second query while one runs."""

    def __init__(self, url: str, query_user: str = "chargebus_query", query_password: str = ""):
        from clickhouse_driver import Client

        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        database = (parts.path or "/default").lstrip("/") or "default"
        user, password = parts.username or "default", parts.password or ""
        http_port = int(parse_qs(parts.query).get("http_port", ["8123"])[0])
        self._http = f"http://{host}:{http_port}/"
        self._http_parameters = {"database": database, "user": user, "password": password}
        self._query_user = query_user
        self._query_parameters = {"database": database, "user": query_user,
                                  "password": query_password}
        self._lock = threading.Lock()
        self._client = Client(host=host, port=parts.port or 9000, database=database,
                              user=user, password=password,
                              connect_timeout=5, send_receive_timeout=60,
                              settings={"use_numpy": False})
        try:
            self.version = _version(self._client.execute("SELECT version()")[0][0])
        except Exception as error:
            raise EngineUnavailable(f"cannot reach ClickHouse at {url}: {error}") from None

    def execute(self, sql: str) -> None:
        with self._lock:
            self._client.execute(sql)

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        with self._lock:
            rows, types = self._client.execute(sql, with_column_types=True)
        return [name for name, _ in types], rows

    def query_rows(self, sql: str, limits: QueryLimits) -> Generator[bytes, None, None]:
        """Over HTTP as the query user, whose profile holds the limits (checked first,
        each time: users.xml may change while the server runs). HTTP, not the native
        protocol: over HTTP the server itself refuses INTO OUTFILE (over the native
        protocol it leaves that to the client) and keeps no session a USE could change."""
        self._check_query_user(limits)
        response = self._post_query(sql, limits, "JSONEachRow")
        with response:
            rest = b""
            while piece := response.read(1 << 18):
                lines = rest + piece
                cut = lines.rfind(b"\n") + 1
                whole, rest = lines[:cut], lines[cut:]
                failed = _SERVER_ERROR_LINE.search(whole)
                if failed:
                    raise limits.error((whole[failed.start():] + rest + response.read())
                                       .decode(errors="replace"))
                if whole:
                    yield whole
            if rest:
                yield rest + b"\n"

    def _check_query_user(self, limits: QueryLimits) -> None:
        names = ", ".join(f"'{name}'" for name in limits.profile())
        response = self._post_query(
            f"SELECT name, value FROM system.settings WHERE name IN ({names})", limits,
            "TabSeparated", unsafe=QueryUserUnsafe)
        with response:
            lines = response.read().decode().splitlines()
        effective = dict(line.split("\t", 1) for line in lines if "\t" in line)
        limits.check_server_profile(self._query_user, effective)

    def _post_query(self, sql: str, limits: QueryLimits, output: str,
                    unsafe: type[Exception] | None = None) -> http.client.HTTPResponse:
        """The server's answer, being read; a refusal as limits.error() makes of it (as
        ``unsafe`` where given: the query user cannot be used)."""
        query = urlencode(self._query_parameters | {"default_format": output})
        request = urllib.request.Request(f"{self._http}?{query}", data=sql.encode(),
                                         method="POST")
        try:
            # The server may take the whole max_execution_time before the first byte.
            return urllib.request.urlopen(request, timeout=limits.seconds + 30)
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            if unsafe is not None:
                raise unsafe(f"queries are not answered: ClickHouse refused the user "
                             f"{self._query_user!r}: {text.strip()[:300]}") from None
            raise limits.error(text) from None
        except OSError as error:
            raise RuntimeError(f"cannot reach ClickHouse over HTTP ({self._http}): "
                               f"{error}") from None

    def insert(self, table: str, columns: dict[str, list], times: tuple[str, ...] = ()) -> None:
        # One columnar block (batches stay far below the block size), so the insert
        # lands whole or not at all.
        # A DateTime column takes Unix seconds as they are; a datetime per row cost the
        # sink more than the rest of the insert.
        moment = _moment if self.version >= DATETIME64_SINCE else _second
        data = [[moment(ms) for ms in values] if name in times else values
                for name, values in columns.items()]
        with self._lock:
            self._client.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", data,
                                 columnar=True)

    def insert_row_binary(self, table: str, names: tuple[str, ...], data: bytes) -> None:
        """Rows in RowBinary, of exactly the columns' types, in one HTTP request, as one
        block: the server inserts them whole or not at all (the sink relies on a message's
        rows being stored all or none)."""
        query = urlencode(self._http_parameters | {
            "query": f"INSERT INTO {table} ({', '.join(names)}) FORMAT RowBinary",
            "max_insert_block_size": 1 << 40})
        request = urllib.request.Request(f"{self._http}?{query}", data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"ClickHouse refused the rows: "
                               f"{error.read().decode(errors='replace')[:500]}") from None

    def close(self) -> None:
        with self._lock:
            self._client.disconnect()
