"""chdb as the reader of calls' JSON for a ClickHouse server.

Debian's clickhouse-server 18.16 has neither JSONExtract nor the input() table function,
so it cannot make sample rows of calls itself. A sink writing to a server runs the
same SELECT (chargebus.meter.clickhouse.payloads) in chdb, in a folder of its own that holds
no data, and sends the server the rows as RowBinary, which every server version reads.
That costs the sink chdb's memory (about 400 MB resident), and saves it walking every
sampled value in Python, which took about as much CPU as everything else it does.
"""
import tempfile
import threading

from chargebus.meter.clickhouse.payloads import select_samples, unreadable_refused
from chargebus.meter.rules import CallLayout


class CallReader:
    """One statement at a time (chdb's Python() table function finds the rows by
    variable name on the calling thread's stack)."""

    def __init__(self, time_type: str):
        import chdb.session

        self._time_type = time_type
        self._folder = tempfile.TemporaryDirectory(prefix="chargebus-callreader-")
        self._session = chdb.session.Session(self._folder.name)
        self._lock = threading.Lock()

    def row_binary(self, layout: CallLayout, rows: dict[str, list]) -> bytes:
        """The samples of the calls in ``rows`` (chargebus.meter.CallColumns), as the
        samples table's columns in RowBinary; CallsUnreadable where chdb reads a call
        otherwise than the sink."""
        select = select_samples(layout, "Python(rows)", self._time_type) + " FORMAT RowBinary"
        with self._lock, unreadable_refused():
            return self._session.query(select).bytes()

    def close(self) -> None:
        with self._lock:
            self._session.close()
        self._folder.cleanup()
