"""What an operator asks of a station, whatever its OCPP version, and what came of it.

One model per operation; chargebus.ocpp.v16.operations and chargebus.ocpp.v2x.operations
turn each into their version's call and read the station's answer back into an
OperationResult. chargebus.operations.perform sends them; the command line and the HTTP
API only build these models.
"""
import enum
from typing import Any, ClassVar, Self

from pydantic import BaseModel, Field, model_validator

from chargebus.domain.composite import CompositeSchedule
from chargebus.domain.model import IdToken
from chargebus.domain.profiles import ChargingProfile, Purpose, RateUnit
from chargebus.ocpp.clock import Moment

# What a station answers when it takes a call: "Scheduled" is a Reset or an availability
# change it makes once idle, "RebootRequired" a setting it takes at its next start,
# "Unlocked" an UnlockConnector that worked.
TAKEN = frozenset({"Accepted", "Scheduled", "RebootRequired", "Unlocked"})


class ResetKind(enum.StrEnum):
    """1.6 only: a soft reset ends transactions and restarts the software, a hard one
    restarts the hardware. 2.x knows only when (ResetWhen)."""

    SOFT = "Soft"
    HARD = "Hard"


class ResetWhen(enum.StrEnum):
    """2.x only: at once (transactions are ended) or once the station is idle."""

    IMMEDIATE = "Immediate"
    ON_IDLE = "OnIdle"


class Availability(enum.StrEnum):
    OPERATIVE = "Operative"
    INOPERATIVE = "Inoperative"


class AttributeType(enum.StrEnum):
    """2.x variable attributes; 1.6 configuration keys have only the actual value."""

    ACTUAL = "Actual"
    TARGET = "Target"
    MIN_SET = "MinSet"
    MAX_SET = "MaxSet"


class Operation(BaseModel):
    """What every operation has: its name in the audit trail and on the command line."""

    NAME: ClassVar[str]


class StartCharging(Operation):
    """1.6 RemoteStartTransaction, 2.x RequestStartTransaction. ``remote_start_id``
    links the transaction the station starts to this request (2.x carries it back in
    TransactionEvent); chargebus.operations.perform gives one when it is None."""

    NAME: ClassVar[str] = "start"
    id_token: IdToken
    evse_id: int | None = Field(default=None, ge=1)  # 1.6 connectorId
    group_id_token: IdToken | None = None  # 2.x only
    remote_start_id: int | None = Field(default=None, ge=0)


class StopCharging(Operation):
    """1.6 RemoteStopTransaction, 2.x RequestStopTransaction."""

    NAME: ClassVar[str] = "stop"
    transaction_id: str = Field(min_length=1)


class Reset(Operation):
    NAME: ClassVar[str] = "reset"
    kind: ResetKind = ResetKind.SOFT
    when: ResetWhen = ResetWhen.IMMEDIATE
    evse_id: int | None = Field(default=None, ge=1)  # 2.x only: one EVSE, not the station


class ChangeAvailability(Operation):
    """The whole station (no EVSE), an EVSE, or one connector of it (2.x); in 1.6 an
    EVSE is a connector, and the station is connector 0."""

    NAME: ClassVar[str] = "availability"
    availability: Availability
    evse_id: int | None = Field(default=None, ge=1)
    connector_id: int | None = Field(default=None, ge=1)


class UnlockConnector(Operation):
    NAME: ClassVar[str] = "unlock"
    evse_id: int = Field(ge=1)  # 1.6 connectorId
    connector_id: int = Field(default=1, ge=1)  # 2.x: the connector of the EVSE


class TriggerMessage(Operation):
    """Ask the station to send one of its own calls now (the version's name of it)."""

    NAME: ClassVar[str] = "trigger"
    message: str = Field(min_length=1)
    evse_id: int | None = Field(default=None, ge=1)
    connector_id: int | None = Field(default=None, ge=1)  # 2.x only


class ClearCache(Operation):
    NAME: ClassVar[str] = "clear-cache"


class VariableName(BaseModel):
    """A 1.6 configuration key (``variable``, no component) or a 2.x variable of a
    component, optionally of one EVSE or connector and one instance."""

    variable: str = Field(min_length=1)
    component: str | None = None
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = Field(default=None, ge=0)
    connector_id: int | None = Field(default=None, ge=1)
    attribute: AttributeType = AttributeType.ACTUAL

    def label(self) -> str:
        """The name as the command line writes it: Component[.instance]/Variable."""
        if self.component is None:
            return self.variable
        component = self.component + (f".{self.component_instance}"
                                      if self.component_instance else "")
        variable = self.variable + (f".{self.variable_instance}"
                                    if self.variable_instance else "")
        return f"{component}/{variable}"


class GetConfiguration(Operation):
    """1.6 GetConfiguration (no names: every key), 2.x GetVariables."""

    NAME: ClassVar[str] = "config-get"
    names: list[VariableName] = []


class ReadDeviceModel(Operation):
    """The station's whole configuration into chargebus: 1.6 GetConfiguration of every
    key; 2.x GetBaseReport FullInventory, whose NotifyReport parts the workers keep."""

    NAME: ClassVar[str] = "config-fetch"
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None


class VariableSetting(BaseModel):
    name: VariableName
    value: str


class SetConfiguration(Operation):
    """1.6 ChangeConfiguration (one key a call), 2.x SetVariables."""

    NAME: ClassVar[str] = "config-set"
    settings: list[VariableSetting] = Field(min_length=1)


class DataTransfer(Operation):
    NAME: ClassVar[str] = "data-transfer"
    vendor_id: str = Field(min_length=1)
    message_id: str | None = None
    data: Any = None  # 1.6: a string


class ReserveNow(Operation):
    """An EVSE (a 1.6 connector), or any, kept for a token (or its group) until
    ``expires_at``."""

    NAME: ClassVar[str] = "reserve"
    reservation_id: int | None = Field(default=None, ge=0)  # perform gives one when None
    id_token: IdToken
    expires_at: Moment
    evse_id: int | None = Field(default=None, ge=1)
    group_id_token: IdToken | None = None  # 1.6 parentIdTag
    connector_type: str | None = None  # 2.x only


class CancelReservation(Operation):
    NAME: ClassVar[str] = "cancel-reservation"
    reservation_id: int = Field(ge=0)


class SetChargingProfile(Operation):
    """Install a profile on an EVSE (1.6: connector), or with ``evse_id`` 0 on the
    station. A profile of the same id on the station is replaced."""

    NAME: ClassVar[str] = "profile-set"
    evse_id: int = Field(ge=0)
    profile: ChargingProfile


class ClearChargingProfile(Operation):
    """Remove the profile of ``profile_id``, or every profile that matches all of the
    criteria given (none given: every profile the CSMS may clear)."""

    NAME: ClassVar[str] = "profile-clear"
    profile_id: int | None = None
    evse_id: int | None = Field(default=None, ge=0)
    purpose: Purpose | None = None
    stack_level: int | None = Field(default=None, ge=0)


class GetCompositeSchedule(Operation):
    """The station's own calculation of what an EVSE (0: the station) may draw from now
    on for ``duration`` seconds."""

    NAME: ClassVar[str] = "schedule"
    evse_id: int = Field(ge=0)
    duration: int = Field(gt=0)
    unit: RateUnit | None = None


class GetChargingProfiles(Operation):
    """2.x only: the station reports the profiles it holds that match (ReportChargingProfiles,
    which the workers keep); none given: all of them."""

    NAME: ClassVar[str] = "profile-fetch"
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None
    evse_id: int | None = Field(default=None, ge=0)
    purpose: Purpose | None = None
    stack_level: int | None = Field(default=None, ge=0)
    profile_ids: list[int] = []


class UpdateFirmware(Operation):
    """Download the firmware at ``location`` from ``retrieve_at`` on and install it (at
    ``install_at``, 2.x and signed 1.6). With a signature and its signing certificate
    (PEM) 1.6 sends the security extension's SignedUpdateFirmware."""

    NAME: ClassVar[str] = "firmware-update"
    location: str = Field(min_length=1, max_length=512)
    retrieve_at: Moment
    install_at: Moment | None = None
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None
    signature: str | None = Field(default=None, min_length=1, max_length=800)
    signing_certificate: str | None = Field(default=None, min_length=1, max_length=5500)

    @model_validator(mode="after")
    def _signed_whole(self) -> Self:
        if (self.signature is None) != (self.signing_certificate is None):
            raise ValueError("a signed firmware comes with its signature and the "
                             "certificate that signed it, both")
        return self


class LogType(str, enum.Enum):
    """What a station is asked to upload: its diagnostics (1.6 GetDiagnostics, 2.x and
    the 1.6 security extension's GetLog DiagnosticsLog) or its security log."""

    DIAGNOSTICS = "Diagnostics"
    SECURITY = "Security"


class RequestLog(Operation):
    """Upload a log to ``location`` (the file service's URL, or the operator's own),
    the entries from ``since`` to ``until`` where given. The station reports the
    upload's progress (DiagnosticsStatusNotification, LogStatusNotification)."""

    NAME: ClassVar[str] = "logs-request"
    log_type: LogType = LogType.DIAGNOSTICS
    location: str = Field(min_length=1, max_length=512)
    since: Moment | None = None
    until: Moment | None = None
    retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None


class DisplayMessage(BaseModel, frozen=True):
    """A message a 2.x station shows. ``priority``, ``state`` and ``format`` are the
    version's words (2.1 adds QRCODE, Suspended, Discharging); each version's schema
    says which it takes before anything is sent."""

    message_id: int = Field(ge=0)
    content: str = Field(min_length=1, max_length=1024)
    priority: str = "NormalCycle"
    format: str = "UTF8"
    language: str | None = Field(default=None, max_length=8)
    state: str | None = None  # shown only while the station is in it
    starts: Moment | None = None
    ends: Moment | None = None
    transaction_id: str | None = None  # shown during this transaction only


class SetDisplayMessage(Operation):
    NAME: ClassVar[str] = "message-set"
    message: DisplayMessage


class GetDisplayMessages(Operation):
    """The station reports the messages it holds that match (NotifyDisplayMessages,
    which the workers keep); none given: all of them."""

    NAME: ClassVar[str] = "message-fetch"
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None
    message_ids: list[int] = []
    priority: str | None = None
    state: str | None = None


class ClearDisplayMessage(Operation):
    NAME: ClassVar[str] = "message-clear"
    message_id: int = Field(ge=0)


class CustomerInformation(Operation):
    """2.x: what a station holds of a customer, named by an identifier of its own or by
    an id token, reported (NotifyCustomerInformation, which the workers keep) and/or
    cleared (the customer's right to be forgotten)."""

    NAME: ClassVar[str] = "customer-information"
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None
    report: bool = True
    clear: bool = False
    customer: str | None = Field(default=None, min_length=1, max_length=64)
    id_token: IdToken | None = None

    @model_validator(mode="after")
    def _names_a_customer(self) -> Self:
        if self.customer is None and self.id_token is None:
            raise ValueError("a customer is named by an identifier or an id token")
        if not (self.report or self.clear):
            raise ValueError("customer information is reported, cleared, or both")
        return self


class MonitorSetting(BaseModel):
    """A 2.x monitor of a variable: ``kind`` UpperThreshold, LowerThreshold, Delta,
    Periodic or PeriodicClockAligned (2.1 adds more; the schema says which it takes),
    its value, and the severity (0 danger to 9 debug) of the events it raises.
    ``monitor_id`` replaces that monitor."""

    name: VariableName
    kind: str
    value: float
    severity: int = Field(ge=0, le=9)
    transaction: bool = False  # only while a transaction runs
    monitor_id: int | None = Field(default=None, ge=0)


class SetMonitors(Operation):
    NAME: ClassVar[str] = "monitor-set"
    monitors: list[MonitorSetting] = Field(min_length=1)


class ClearMonitors(Operation):
    NAME: ClassVar[str] = "monitor-clear"
    monitor_ids: list[int] = Field(min_length=1)


class SetMonitoringBase(Operation):
    """Which monitors are in force: All, FactoryDefault or HardWiredOnly."""

    NAME: ClassVar[str] = "monitoring-base"
    base: str


class SetMonitoringLevel(Operation):
    """Events of this severity or more urgent (lower) are sent; the rest are not."""

    NAME: ClassVar[str] = "monitoring-level"
    severity: int = Field(ge=0, le=9)


class ReadMonitors(Operation):
    """The station reports its monitors (NotifyMonitoringReport, which the workers keep
    in its device model), all or those of the criteria given."""

    NAME: ClassVar[str] = "monitor-fetch"
    request_id: int | None = Field(default=None, ge=0)  # perform gives one when None
    criteria: list[str] = []  # ThresholdMonitoring, DeltaMonitoring, PeriodicMonitoring


class MonitorResult(BaseModel):
    name: VariableName
    status: str
    kind: str
    severity: int
    monitor_id: int | None = None


class VariableResult(BaseModel):
    """One variable of a GetConfiguration or SetConfiguration answer. ``status`` is the
    station's word (2.x attributeStatus, 1.6 ChangeConfiguration's status), or
    "UnknownVariable" for a 1.6 unknownKey; ``read_only`` is said by 1.6 only."""

    name: VariableName
    status: str
    value: str | None = None
    read_only: bool | None = None


class OperationResult(BaseModel):
    """A station's answer to an operation. ``status`` is the station's word; ``taken``
    whether it does what was asked (every variable, for configuration)."""

    status: str
    taken: bool
    reason: str | None = None  # 2.x statusInfo: reasonCode, and additionalInfo
    transaction_id: str | None = None  # 2.x: a remote start's transaction already running
    variables: list[VariableResult] = []
    data: Any = None  # a DataTransfer's answer
    schedule: CompositeSchedule | None = None  # a GetCompositeSchedule's answer
    monitors: list[MonitorResult] = []  # a SetVariableMonitoring's answer
    cleared: list[int] = []  # the monitors a ClearVariableMonitoring removed
    filename: str | None = None  # the file a log request's upload will be


class NotInVersion(Exception):
    """The operation, as given, has no form in the station's OCPP version."""


def status_result(payload: dict) -> OperationResult:
    """The answer of a call whose answer is a status (and 2.x statusInfo)."""
    status = payload["status"]
    info = payload.get("statusInfo")
    reason = None
    if isinstance(info, dict):
        reason = info.get("reasonCode", "")
        if info.get("additionalInfo"):
            reason += f": {info['additionalInfo']}"
    return OperationResult(status=status, taken=status in TAKEN, reason=reason)
