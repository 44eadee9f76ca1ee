"""OCPP 1.6J payloads to and from chargebus.domain.model."""
from datetime import datetime

from chargebus.domain.model import (AuthorizationDecision, AuthorizationStatus, Boot,
                                    BootDecision, EnergyReading, IdToken, StatusReport,
                                    TokenUse, TransactionEvent, TransactionEventKind)
from chargebus.meter.readings import energy_readings
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import ocpp_timestamp, parse_timestamp
from chargebus.state.records import LocalListEntry

VERSION = OcppVersion.V16


def boot(payload: dict) -> Boot:
    return Boot(vendor=payload["chargePointVendor"], model=payload["chargePointModel"],
                serial_number=payload.get("chargePointSerialNumber"),
                firmware_version=payload.get("firmwareVersion"))


def boot_answer(decision: BootDecision) -> dict:
    return {"status": decision.status.value, "currentTime": ocpp_timestamp(decision.current_time),
            "interval": decision.interval}


def status(payload: dict) -> StatusReport:
    timestamp = payload.get("timestamp")
    return StatusReport(evse_id=payload["connectorId"], status=payload["status"],
                        error_code=payload["errorCode"],
                        timestamp=parse_timestamp(timestamp) if timestamp else None)


def id_token(action: str, payload: dict) -> IdToken | None:
    """The token a call presents: Authorize, StartTransaction, StopTransaction."""
    tag = payload.get("idTag")
    return IdToken(value=tag) if tag is not None else None


def authorization_answer(action: str, decision: AuthorizationDecision | None,
                         transaction_id: str | None = None) -> dict:
    answer: dict = {}
    if decision is not None:
        answer["idTagInfo"] = _id_tag_info(decision.status, decision.expires_at,
                                           decision.group_id)
    if action == "StartTransaction":
        assert transaction_id is not None  # the workers give every start one
        answer["transactionId"] = int(transaction_id)
    return answer


def transaction_event(action: str, payload: dict, answer: dict | None) -> TransactionEvent | None:
    """A start (its id is in chargebus's answer) or a stop."""
    moment = parse_timestamp(payload["timestamp"])
    if action == "StartTransaction":
        assert answer is not None  # a start is taken with chargebus's answer
        return TransactionEvent(
            key="start", kind=TransactionEventKind.STARTED,
            transaction_id=str(answer["transactionId"]), timestamp=moment,
            evse_id=payload["connectorId"], id_token=IdToken(value=payload["idTag"]),
            readings=[EnergyReading(timestamp=moment, wh=float(payload["meterStart"]))])
    if action == "StopTransaction":
        tag = payload.get("idTag")
        return TransactionEvent(
            key="stop", kind=TransactionEventKind.ENDED,
            transaction_id=str(payload["transactionId"]), timestamp=moment,
            id_token=IdToken(value=tag) if tag else None,
            stop_reason=payload.get("reason", "Local"),
            readings=energy_readings(VERSION, action, payload)
            + [EnergyReading(timestamp=moment, wh=float(payload["meterStop"]))])
    return None


def start_identity(payload: dict) -> str:
    """What makes a StartTransaction the same start when the station sends it again."""
    return f"{payload['connectorId']}/{payload['timestamp']}"


def transaction_of(action: str, payload: dict) -> str | None:
    """The transaction a call belongs to, where the call itself tells (not a 1.6 start)."""
    if action == "StopTransaction":
        return str(payload["transactionId"])
    return None


def reservation_of(action: str, payload: dict) -> tuple[int | None, int | None]:
    """The reservation a start names (if any) and the EVSE (1.6 connector) it is on."""
    if action != "StartTransaction":
        return None, None
    return payload.get("reservationId"), payload["connectorId"]


def token_use(action: str, payload: dict) -> TokenUse | None:
    """A start counts against its token, a stop (whatever token it carries) ends that."""
    if action == "StartTransaction":
        return TokenUse.CLAIM
    if action == "StopTransaction":
        return TokenUse.RELEASE
    return None


def send_local_list(version: int, full: bool, entries: dict[str, LocalListEntry | None]) -> dict:
    """SendLocalList: ``None`` for a token removes it (differential updates only)."""
    listed = []
    for tag, entry in sorted(entries.items()):
        item: dict = {"idTag": tag}
        if entry is not None:
            item["idTagInfo"] = _id_tag_info(entry.status, entry.expires_at, entry.parent_id)
        listed.append(item)
    return {"listVersion": version, "updateType": "Full" if full else "Differential",
            "localAuthorizationList": listed}


def local_list_version(payload: dict) -> int:
    return payload["listVersion"]


def _id_tag_info(status: AuthorizationStatus, expires_at: datetime | None,
                 parent_id: str | None) -> dict:
    info: dict = {"status": status.value}
    if expires_at is not None:
        info["expiryDate"] = ocpp_timestamp(expires_at)
    if parent_id is not None:
        info["parentIdTag"] = parent_id
    return info


# 1.6 (security whitepaper) has one kind of station certificate, and each
# GetInstalledCertificateIds asks for one type of root.
CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
INSTALLED_ROOTS = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")


def signing_request(payload: dict) -> tuple[str, str, int | None]:
    """SignCertificate: the CSR, what it is for and the request id to answer with."""
    return payload["csr"], CHARGING_STATION_CERTIFICATE, None


def certificate_signed(chain: str, certificate_type: str, request_id: int | None) -> dict:
    return {"certificateChain": chain}


def renewal_trigger() -> tuple[str, dict]:
    return "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}


def installed_ids_requests(types: list[str]) -> list[tuple[str, dict]]:
    """GetInstalledCertificateIds, one call per type asked for (all when none is)."""
    return [(kind, {"certificateType": kind}) for kind in types or INSTALLED_ROOTS]


def installed_ids(asked: str, answer: dict) -> list[dict]:
    """The certificates an answer lists, each with its type and hash data."""
    return [{"certificateType": asked} | hashes for hashes in answer.get("certificateHashData", ())]
