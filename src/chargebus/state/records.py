"""What chargebus keeps in JetStream KV about stations, tokens and transactions."""
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from chargebus.domain.model import (AuthorizationStatus, EnergyReading, RegistrationStatus,
                                     TokenType)
from chargebus.domain.operations import DisplayMessage, GetChargingProfiles, GetDisplayMessages
from chargebus.domain.profiles import ChargingProfile, RateUnit
from chargebus.domain.topology import Site
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


class StoredProfile(BaseModel):
    """A charging profile on one EVSE of a station (0: the station), and where it is from:
    ``source`` is who set it (the sender of the operation) or, for one the station
    reported, its chargingLimitSource (CSO, EMS, SO, Other). ``status`` is the station's
    answer (Accepted; anything else is a refusal) or Reported."""

    evse_id: int
    profile: ChargingProfile
    status: str
    source: str
    at: datetime


class ProfileFetch(BaseModel):
    """A GetChargingProfiles under way: what it asked for, and the reported profiles
    gathered so far (a report may come in parts)."""

    request: GetChargingProfiles
    gathered: list[StoredProfile] = []


class StationProfiles(BaseModel):
    """What chargebus knows of a station's charging profiles, in one record: the
    profiles the station holds, the latest answers that refused one, and a fetch of its
    own list under way."""

    station_id: str
    profiles: list[StoredProfile] = []
    refused: list[StoredProfile] = []
    fetch: ProfileFetch | None = None


class SiteMember(BaseModel):
    """Which site a station's EVSEs are in: the load manager finds a station's site here."""

    station_id: str
    site_id: str


class SiteRecord(BaseModel):
    site: Site
    changed_by: str
    changed_at: datetime


class SiteSession(BaseModel):
    """A transaction under way at an EVSE of a site, as the load manager sees it."""

    station_id: str
    evse_id: int
    transaction_id: str
    started_at: datetime
    car_phases: int | None = None  # seen in its meter values
    drawn: float | None = None  # A per phase, the highest of its phases, lately
    drawn_at: datetime | None = None  # when that was read
    # 2.x NotifyEVChargingNeeds: the car's maximum (A per phase), the energy it asks for
    # and when it leaves.
    car_max: float | None = None
    energy_wh: float | None = None
    departure: datetime | None = None


class EvseControl(BaseModel):
    """What the load manager told one EVSE, as the station accepted it: its
    TxDefaultProfile's limit, and its session's TxProfile's; ``pending`` while a call is
    under way (it counts as told until answered). None: nothing accepted."""

    station_id: str
    evse_id: int
    default_limit: float | None = None
    tx_limit: float | None = None
    tx_transaction: str | None = None
    pending: float | None = None


class GroupLimit(BaseModel):
    """A temporary lower limit of a group (a grid operator's curtailment, an energy
    management system's), in A per phase."""

    group_id: str
    amperes: float = Field(ge=0)
    starts: datetime
    ends: datetime
    set_by: str


class Uncontrolled(BaseModel):
    """A station the load manager cannot count on: it refused or did not answer a
    profile, or is offline; counted at its EVSEs' maximum until it takes one. It is
    tried again a while after ``tried_at``."""

    since: datetime
    tried_at: datetime
    why: str


class ExternalLimit(BaseModel):
    limit: float
    unit: RateUnit
    source: str  # chargingLimitSource: EMS, SO, CSO, Other


class SiteAllocation(BaseModel):
    """The load manager's state of one site, in one record written with compare-and-set:
    the sessions, what each EVSE was told, the limits in force, and the lease of the
    worker that is changing it."""

    site_id: str
    holder: str | None = None
    lease_until: datetime | None = None
    dirty: bool = False  # a change came while the holder was working: once more
    sessions: list[SiteSession] = []
    ended: list[str] = []  # "<station>/<transaction>" of late: a late start is no session
    evses: list[EvseControl] = []
    uncontrolled: dict[str, Uncontrolled] = {}
    limits: list[GroupLimit] = []
    # Limits stations reported from outside (2.x NotifyChargingLimit), by
    # "<station>/<evse>" (evse 0: the station): the lowest of its schedule, in its unit.
    external: dict[str, ExternalLimit] = {}
    # What the last allocation gave: A per phase by "<station>/<evse>", and the queue.
    shares: dict[str, float] = {}
    granted_at: dict[str, datetime] = {}  # when each share last changed
    queue: list[str] = []
    allocated_at: datetime | None = None


class FirmwareStatus(BaseModel):
    status: str  # the station's FirmwareStatusEnumType
    at: datetime


class FirmwareUpdate(BaseModel):
    """One firmware update of a station: what was asked, the station's answer, each
    status it reported with the time it came, and the firmware it booted with after."""

    request_id: int
    location: str
    retrieve_at: datetime
    requested_at: datetime
    sender: str
    firmware_before: str | None = None
    answer: str | None = None  # None while the request is under way
    statuses: list[FirmwareStatus] = []
    firmware_after: str | None = None  # the version it booted with once installed
    booted_at: datetime | None = None


class StationFirmware(BaseModel):
    """A station's firmware updates, the latest last."""

    station_id: str
    updates: list[FirmwareUpdate] = []


class FileGrant(BaseModel):
    """What one file-service URL opens (chargebus.files.grants): a download of one stored
    file, or the uploads of one request into a folder of their own, until ``expires_at``.
    The URL carries the grant's id and a secret, of which only the hash is kept."""

    grant_id: str
    secret_sha256: str
    kind: Literal["download", "upload"]
    # download: the stored file's key; upload: the folder its files land in.
    key: str
    name: str | None = None  # download: the file's name, the last part of its URL
    purpose: str  # firmware, diagnostics, log: what a file uploaded through it is
    station_id: str | None = None
    request_id: int | None = None
    max_bytes: int
    issued_at: datetime
    expires_at: datetime
    issued_by: str


class StoredFile(BaseModel):
    """A file the file service holds: a firmware image an operator published, or what a
    station uploaded for one of its log or diagnostics requests."""

    file_id: str
    key: str  # where the storage holds it
    name: str
    size: int
    sha256: str
    stored_at: datetime
    purpose: str
    via: str  # http, ftp
    station_id: str | None = None
    request_id: int | None = None
    grant_id: str | None = None


class LogStatus(BaseModel):
    status: str
    at: datetime


class LogRequest(BaseModel):
    """One diagnostics or log request of a station: what was asked, the station's
    answer and the file name it gave, and each upload status it reported."""

    request_id: int
    log_type: str  # Diagnostics (1.6 GetDiagnostics), DiagnosticsLog, SecurityLog
    action: str | None = None  # the call it went as: GetDiagnostics or GetLog
    grant_id: str | None = None  # the upload URL chargebus handed out
    via: str | None = None
    requested_at: datetime
    sender: str
    answer: str | None = None
    filename: str | None = None
    statuses: list[LogStatus] = []


class StationLogs(BaseModel):
    """A station's log and diagnostics requests, the latest last."""

    station_id: str
    requests: list[LogRequest] = []


class StoredMessage(BaseModel):
    """A display message a station holds (``status`` Accepted, or Reported where it
    listed it), or one it refused (its answer), and who set it."""

    message: DisplayMessage
    status: str
    source: str
    at: datetime


class MessageFetch(BaseModel):
    request: GetDisplayMessages
    gathered: list[StoredMessage] = []


class StationMessages(BaseModel):
    station_id: str
    messages: list[StoredMessage] = []
    refused: list[StoredMessage] = []
    fetch: MessageFetch | None = None


class CustomerReport(BaseModel):
    """What a station reported of a customer (2.x NotifyCustomerInformation), part by
    part: ``parts`` by seqNo; complete once the part without tbc and every one before
    it came."""

    station_id: str
    request_id: int
    customer: str | None = None
    id_token: str | None = None
    cleared: bool = False  # the station was asked to forget the customer too
    requested_by: str
    requested_at: datetime
    parts: dict[int, str] = {}
    last_seq_no: int | None = None
    generated_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return self.last_seq_no is not None and set(self.parts) >= set(
            range(self.last_seq_no + 1))

    def text(self) -> str:
        return "".join(self.parts[seq_no] for seq_no in sorted(self.parts))


class ApiKey(BaseModel):
    """An API key (chargebus.security.apikeys): its id, name, scope and reach, and the
    hash of its secret; revoked keys are kept, so that their holders are told so."""

    key_id: str
    name: str
    scope: Literal["read", "operate", "admin"]
    secret_sha256: str
    sites: list[str] = []  # none and no stations: every station
    stations: list[str] = []
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None


class ApiCommand(BaseModel):
    """An operation the HTTP API was asked not to wait for: pending until ``performed``
    (chargebus.operations.perform's Performed.as_json) is there. One still pending after
    ``deadline`` was lost with the API process that sent it; the audit trail says
    whether it reached the station."""

    command_id: str
    station_id: str
    operation: str
    requested_by: str
    requested_at: datetime
    deadline: datetime
    performed: dict | None = None


class Webhook(BaseModel):
    """Where the feed's events are posted (chargebus.manage.webhooks): from ``start_seq``
    of the feed on, those of ``kinds`` (none: every kind) and ``stations`` (none: every
    station), each signed with ``secret``, which is kept as it is: signing needs it."""

    webhook_id: str
    url: str
    secret: str
    kinds: list[str] = []
    stations: list[str] = []
    start_seq: int
    created_by: str
    created_at: datetime
