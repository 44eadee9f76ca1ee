"""The two ways to ClickHouse: chdb in this process, or a server over its native protocol.

Both run the same SQL, take inserts as a dict of column lists, and answer queries as
column names and rows.
"""
import re
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson


class Engine(Protocol):
    version: tuple[int, ...]

    def execute(self, sql: str) -> None: ...

    def query(self, sql: str) -> tuple[list[str], list[tuple]]: ...

    def insert(self, table: str, columns: dict[str, list], times: tuple[str, ...] = ()) -> None:
        """Insert one column list per table column, in the table's order; the columns
        named in ``times`` hold Unix times in milliseconds."""

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


class ChdbEngine:
    """chdb: ClickHouse inside this process, its data in one folder that only one
    process may open. One statement at a time: the session is not safe to share
    between threads, and its Python() table function finds the data by variable name
    on the calling thread's stack."""

    def __init__(self, path: Path):
        import chdb.session  # about 400 MB resident: only the process that owns the data

        path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._session = chdb.session.Session(str(path))
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
        result = orjson.loads(self.query_json(sql, "JSONCompact") or b'{"meta":[],"data":[]}')
        return [column["name"] for column in result["meta"]], [tuple(row) for row in result["data"]]

    def query_json(self, sql: str, output: str = "JSON") -> bytes:
        with self._lock:
            return self._session.query(sql, output).bytes()

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
    (8123 unless http_port says otherwise) for rows already in RowBinary. One statement
    at a time: a clickhouse-driver connection takes no second query while one runs."""

    def __init__(self, url: str):
        from clickhouse_driver import Client

        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        database = (parts.path or "/default").lstrip("/") or "default"
        user, password = parts.username or "default", parts.password or ""
        http_port = int(parse_qs(parts.query).get("http_port", ["8123"])[0])
        self._http = f"http://{host}:{http_port}/"
        self._http_parameters = {"database": database, "user": user, "password": password}
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

    def query_json(self, sql: str) -> bytes:
        names, rows = self.query(sql)
        return orjson.dumps({"data": [dict(zip(names, row)) for row in rows]},
                            default=str)

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
