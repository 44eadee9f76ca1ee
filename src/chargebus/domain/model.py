"""What stations report and what chargebus decides, whatever the OCPP version.

Business code (the workers, the CLI) reads and writes only these; chargebus.ocpp.converters
turns each version's payloads into them and the decisions back into payloads.
"""
import enum
from datetime import datetime

from pydantic import BaseModel


class RegistrationStatus(enum.StrEnum):
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class AuthorizationStatus(enum.StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class TokenType(enum.StrEnum):
    """OCPP 2.x IdTokenEnumType; 1.6 idTags carry no type."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class TransactionEventKind(enum.StrEnum):
    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


class TokenUse(enum.StrEnum):
    """What a transaction call does to the count of its token's transactions."""

    CLAIM = "claim"  # the token authorizes the transaction: it counts from now on
    RELEASE = "release"  # the transaction ended, or the token no longer authorizes it


class Boot(BaseModel):
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    reason: str | None = None  # 2.x BootReasonEnumType


class BootDecision(BaseModel):
    status: RegistrationStatus
    interval: int
    current_time: datetime


class StatusReport(BaseModel):
    evse_id: int  # 1.6 connectorId: 1.6 connectors are 2.x EVSEs; 0 the whole station
    connector_id: int | None = None  # 2.x only
    status: str
    error_code: str | None = None  # 1.6 only
    timestamp: datetime | None = None


class IdToken(BaseModel):
    value: str
    type: TokenType | None = None


class AuthorizationDecision(BaseModel):
    status: AuthorizationStatus
    expires_at: datetime | None = None
    group_id: str | None = None


class EnergyReading(BaseModel):
    """The energy import register (Energy.Active.Import.Register), in Wh."""

    timestamp: datetime
    wh: float


class TransactionEvent(BaseModel):
    """One thing that happened to a transaction: a 1.6 start or stop, or a 2.x
    TransactionEvent. ``key`` names it within its transaction: 1.6 "start" or "stop",
    2.x "seq:<seqNo>"; with its content it tells a repeat from another event a station
    gave the same key (chargebus.domain.sessions)."""

    key: str
    kind: TransactionEventKind
    transaction_id: str
    timestamp: datetime
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: IdToken | None = None
    trigger_reason: str | None = None
    offline: bool = False
    stop_reason: str | None = None
    readings: list[EnergyReading] = []
    remote_start_id: int | None = None  # 2.x: the RequestStartTransaction that began it
