"""The NATS header names chargebus uses, and the context every bus message about a
station's call carries in them."""
import hashlib
from dataclasses import dataclass

from nats.js.api import Header

from chargebus.ocpp import OcppVersion

STATION = "Chargebus-Station"
VERSION = "Chargebus-Version"
ACTION = "Chargebus-Action"
UNIQUE_ID = "Chargebus-Unique-Id"
EDGE = "Chargebus-Edge"
RECEIVED = "Chargebus-Received"
# On a recorded call that a worker answered: the answer the station got, as JSON (a
# 1.6 StartTransaction's record needs the transactionId chargebus gave it).
ANSWER = "Chargebus-Answer"
# On a worker's reply: the Fault the call is to be answered with (chargebus.ocpp).
FAULT = "Chargebus-Fault"
# On a dead letter: why it could not be used.
REASON = "Chargebus-Reason"
# JetStream's own deduplication header, as nats-py names it.
NATS_MSG_ID = Header.MSG_ID.value
# NATS's own status header: 503 on a reply that no subscriber of the subject took.
NATS_STATUS = Header.STATUS.value
# On a command to a station (chargebus.operations.commands): how long the sender waits, in seconds.
TIMEOUT = "Chargebus-Timeout"
# On a command's reply: how it ended (chargebus.operations.commands.Outcome).
OUTCOME = "Chargebus-Outcome"
# On a command to a station: who sends it ("cli:<user>", "workers", ...), for the audit.
SENDER = "Chargebus-Sender"
# On the replies of a query (chargebus.bus.queryreplies): the reply's number, from 0; on the
# last one the number of rows in all; on a reply that ends the answer, the kind of error.
QUERY_PART = "Chargebus-Query-Part"
QUERY_ROWS = "Chargebus-Query-Rows"
QUERY_ERROR = "Chargebus-Error"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who sent a call, in which version, and where and when it came in."""

    station_id: str
    version: OcppVersion
    action: str
    unique_id: str
    edge_id: str
    received: str  # RFC 3339, UTC

    def headers(self) -> dict[str, str]:
        return {
            STATION: self.station_id,
            VERSION: self.version.value,
            ACTION: self.action,
            UNIQUE_ID: self.unique_id,
            EDGE: self.edge_id,
            RECEIVED: self.received,
        }

    def record_headers(self, body: bytes, answer: bytes | None = None) -> dict[str, str]:
        """Headers for the OCPP stream, where JetStream records a repeated call once.

        A repeat is the same unique id with the same payload: stations that restart
        their id counters after a reboot reuse ids for new calls, which must be kept.
        """
        digest = hashlib.blake2b(body, digest_size=12).hexdigest()
        headers = self.headers() | {
            NATS_MSG_ID: f"{self.station_id}/{self.action}/{self.unique_id}/{digest}"}
        if answer is not None:
            headers[ANSWER] = answer.decode()
        return headers

    @classmethod
    def from_headers(cls, headers: dict[str, str] | None) -> "CallContext":
        headers = headers or {}
        try:
            return cls(
                station_id=headers[STATION],
                version=OcppVersion(headers[VERSION]),
                action=headers[ACTION],
                unique_id=headers[UNIQUE_ID],
                edge_id=headers[EDGE],
                received=headers[RECEIVED],
            )
        except (KeyError, ValueError) as missing:
            raise ValueError(f"bus message lacks the call context: {missing}") from None
