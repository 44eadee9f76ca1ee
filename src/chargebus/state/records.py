"""What chargebus keeps in JetStream KV about stations, tokens and transactions."""
from datetime import UTC, datetime

from pydantic import BaseModel, Field, field_validator

from chargebus.domain.model import (AuthorizationStatus, EnergyReading, RegistrationStatus,
                                     TokenType)
from chargebus.ocpp import OcppVersion


class StationInfo(BaseModel):
    station_id: str
    version: OcppVersion
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None
    boot_reason: str | None = None
    booted_at: datetime
    boot_status: RegistrationStatus = RegistrationStatus.ACCEPTED


class ConnectorStatus(BaseModel):
    station_id: str
    evse_id: int  # OCPP 1.6 connectorId (0 is the whole station)
    connector_id: int | None = None  # 2.x only
    status: str
    error_code: str | None = None
    reported_at: datetime
    version: OcppVersion


class Token(BaseModel):
    id_token: str
    type: TokenType | None = None
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    expires_at: datetime | None = None
    parent_id: str | None = None  # 1.6 parentIdTag, 2.x groupIdToken
    max_active: int = 1  # transactions it may have at once; 0: no limit


class ActiveTransactions(BaseModel):
    """The transactions a token has under way, as "<station>/<transaction id>", with the
    time each was claimed; and those released lately, with the time of their release:
    a start still under way when its stop is answered (a retry) must not count again."""

    id_token: str
    transactions: dict[str, datetime] = {}
    released: dict[str, datetime] = {}

    @field_validator("transactions", mode="before")
    @classmethod
    def _claimed_at_unknown_times(cls, value: object) -> object:
        # Lists written before claims had a time: as if claimed long ago, which lets the
        # sweep drop at once only those whose transaction has no record or has ended.
        return dict.fromkeys(value, datetime.min.replace(tzinfo=UTC)) \
            if isinstance(value, list) else value


class Claim(BaseModel):
    """The token a transaction counts against, for its stop, which need not carry it."""

    id_token: str


# Between an event's key and the digest of its content in Transaction.applied.
APPLIED_DIGEST_SEPARATOR = "#"


class Transaction(BaseModel):
    """A charging session, built from its events in whatever order they arrive.

    Every field is a function of the set of events applied, not of their order: a
    station that was offline sends its queue late and a redelivered event is
    recognised, so the record ends the same however it got here. ``applied`` holds
    each event's key with a digest of its content ("seq:3#<digest>"): a repeat has
    both, while an event a station gave a key already used (every seqNo 0) is applied
    by what it says.
    """

    transaction_id: str
    station_id: str
    version: OcppVersion
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    started_at: datetime | None = None  # from the start event; None until it arrives
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    closed_by_rule: str | None = None  # why chargebus closed it, when the station did not
    first_reading: EnergyReading | None = None
    last_reading: EnergyReading | None = None
    applied: list[str] = []
    offline_events: int = 0
    last_trigger_reason: str | None = None
    # A remote start's: the id it went with (2.x remoteStartId; 1.6 chargebus's own),
    # and who sent it (chargebus.operations.perform, linked by the workers).
    remote_start_id: int | None = None
    started_by: str | None = None

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    @property
    def applied_keys(self) -> list[str]:
        """The keys of the events applied, in the order applied."""
        return [entry.partition(APPLIED_DIGEST_SEPARATOR)[0] for entry in self.applied]

    @property
    def energy_wh(self) -> float | None:
        if self.first_reading is None or self.last_reading is None:
            return None
        return self.last_reading.wh - self.first_reading.wh

    @property
    def reference(self) -> str:
        return f"{self.station_id}/{self.transaction_id}"


class RemoteStart(BaseModel):
    """A remote start chargebus sent, kept until the transaction it caused links to it:
    2.x by its remoteStartId, 1.6 by station, connector, token and time (the workers,
    chargebus.domain.sessions.remote_start_of). ``answer``: the station's status, None
    while the request is under way."""

    station_id: str
    remote_start_id: int
    id_token: str
    evse_id: int | None = None
    sender: str
    requested_at: datetime
    answer: str | None = None
    transaction_id: str | None = None


class Reservation(BaseModel):
    """A reservation chargebus sent (chargebus.domain.reservations says what is in force).
    ``status``: None while the request is under way; then the station's answer
    (Accepted, Occupied, Faulted, Rejected, Unavailable) or why it has none (timeout,
    offline...); then how an accepted one ended: Used, Cancelled, or the station's
    ReservationStatusUpdate (Expired, Removed). Expiry itself is read off ``expires_at``."""

    reservation_id: int
    station_id: str
    evse_id: int | None = None  # None: any EVSE of the station (1.6 connector 0)
    id_token: str
    group_id: str | None = None  # 1.6 parentIdTag, 2.x groupIdToken
    expires_at: datetime
    made_by: str
    requested_at: datetime
    status: str | None = None
    ended_at: datetime | None = None
    transaction_id: str | None = None  # the transaction that used it


class StationReservations(BaseModel):
    """A station's reservations, in one record: a start reads them in one get."""

    station_id: str
    reservations: list[Reservation] = []


class CertificateFacts(BaseModel):
    """What identifies a station's client certificate, and when it ends."""

    serial: str  # hexadecimal
    fingerprint: str  # SHA-256 of its DER, hexadecimal
    not_after: datetime


class Presence(BaseModel):
    """Which edge holds a station's socket (the last connection wins), or, once it is
    gone, when it was last seen."""

    station_id: str
    edge_id: str
    connection_id: str
    version: OcppVersion
    connected_at: datetime
    online: bool = True
    disconnected_at: datetime | None = None
    # Profile 3: the client certificate it connected with.
    certificate: CertificateFacts | None = None


class LastHeard(BaseModel):
    """When a station's edge last had a message from it, written at most every
    edge_heard_refresh_seconds (the fleet view's last message time)."""

    station_id: str
    heard_at: datetime


class StationAccess(BaseModel):
    """A station's secret, readable by the workers and the operator only: its Basic
    auth password, hashed (chargebus.security.passwords), and during a rotation the new one,
    hashed with the same salt (passwords.hash_pending), until the station has used it."""

    station_id: str
    password_hash: str | None = None
    pending_hash: str | None = None


class StationAdmission(BaseModel):
    """How a station is admitted and received, nothing secret, for edges and the sink:
    the OCPP versions it may speak, the lowest security profile it may connect with
    (None: whatever the edge runs), the answer to its boots, its heartbeat interval
    (None: the defaults), its site, and the generation of its password, raised at each
    change of it, so that an edge forgets the passwords it saw verified before."""

    station_id: str
    versions: list[OcppVersion] | None = None
    security_profile: int | None = Field(default=None, ge=0, le=3)
    boot_status: RegistrationStatus | None = None
    heartbeat_interval: int | None = None
    site: str | None = None  # where it stands, for analytics by site
    password_generation: int = 0


class LocalListEntry(BaseModel):
    status: AuthorizationStatus
    expires_at: datetime | None = None
    parent_id: str | None = None
    type: TokenType | None = None


class LocalList(BaseModel):
    """A station's local authorization list: what it should hold (``entries`` at
    ``version``) and what it confirmed holding (``sent`` at ``sent_version``)."""

    station_id: str
    version: int = 0
    entries: dict[str, LocalListEntry] = {}
    sent_version: int = 0
    sent: dict[str, LocalListEntry] = {}


class IssuedCertificate(CertificateFacts):
    """A certificate chargebus had signed for a station, and how it went on."""

    issued_at: datetime
    sent_at: datetime | None = None  # CertificateSigned sent
    # The station's answer to CertificateSigned (Accepted, Rejected), or how sending it
    # ended (offline, timeout, error...).
    answer: str | None = None


class StationCertificates(BaseModel):
    """A station's client certificate as chargebus knows it: the last one it had signed
    for the station and how that went, the last CSR refused and why, and the renewal
    asked of it (chargebus.security.certificates). The certificate a station connected with is
    in its presence record."""

    station_id: str
    issued: IssuedCertificate | None = None
    # The last certificate from chargebus that the station took: answered Accepted to
    # CertificateSigned, or made for it by `chargebus certificates issue`.
    current: CertificateFacts | None = None
    refused_at: datetime | None = None
    refused_because: str | None = None
    renewal_requested_at: datetime | None = None
    renewal_answer: str | None = None
