"""What chargebus keeps about stations, tokens and transactions, whatever the version."""
import enum
from datetime import datetime

from pydantic import BaseModel

from chargebus.protocol import OcppVersion


class StationInfo(BaseModel):
    station_id: str
    version: OcppVersion
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    boot_reason: str | None = None
    booted_at: datetime


class ConnectorStatus(BaseModel):
    station_id: str
    evse_id: int  # OCPP 1.6 connectorId (0 is the whole station)
    connector_id: int | None = None  # 2.x only
    status: str
    error_code: str | None = None
    reported_at: datetime
    version: OcppVersion


class AuthorizationStatus(enum.StrEnum):
    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class Token(BaseModel):
    id_token: str
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    expires_at: datetime | None = None
    parent_id: str | None = None

    def authorization_at(self, moment: datetime) -> AuthorizationStatus:
        if self.expires_at is not None and self.expires_at <= moment:
            return AuthorizationStatus.EXPIRED
        return self.status


class Transaction(BaseModel):
    transaction_id: str
    station_id: str
    version: OcppVersion
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    started_at: datetime | None = None  # None: the start never reached chargebus
    meter_start_wh: float | None = None
    stopped_at: datetime | None = None
    meter_stop_wh: float | None = None
    stop_reason: str | None = None
    last_seq_no: int | None = None  # 2.x TransactionEvent

    @property
    def active(self) -> bool:
        return self.stopped_at is None


class Presence(BaseModel):
    """Which edge holds a station's socket: the last connection wins."""

    station_id: str
    edge_id: str
    connection_id: str
    version: OcppVersion
    connected_at: datetime


class StationAccess(BaseModel):
    """How a station may connect: its Basic auth password (hashed, see
    chargebus.passwords) and, where set, the OCPP versions it may speak."""

    station_id: str
    password_hash: str | None = None
    versions: list[OcppVersion] | None = None  # None: any the edge offers
