"""OCPP 2.0.1 (and 2.1) payloads to and from chargebus.domain.model."""
from datetime import datetime

from chargebus.domain.devicemodel import (Attribute, Characteristics, ComponentRef, ReportPart,
                                          Variable)
from chargebus.domain.model import (AuthorizationDecision, AuthorizationStatus, Boot,
                                    BootDecision, IdToken, StatusReport, TokenType, TokenUse,
                                    TransactionEvent, TransactionEventKind)
from chargebus.meter.readings import energy_readings
from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import ocpp_timestamp, parse_timestamp
from chargebus.state.records import LocalListEntry

VERSION = OcppVersion.V201
# Trigger reasons of an event that ends the token's authorization of the transaction,
# which may go on (the EV still plugged in) until it is Ended.
AUTHORIZATION_ENDED = frozenset({"StopAuthorized", "Deauthorized"})


def boot(payload: dict) -> Boot:
    station = payload["chargingStation"]
    return Boot(vendor=station["vendorName"], model=station["model"],
                serial_number=station.get("serialNumber"),
                firmware_version=station.get("firmwareVersion"), reason=payload.get("reason"))


def boot_answer(decision: BootDecision) -> dict:
    return {"status": decision.status.value, "currentTime": ocpp_timestamp(decision.current_time),
            "interval": decision.interval}


def status(payload: dict) -> StatusReport:
    return StatusReport(evse_id=payload["evseId"], connector_id=payload["connectorId"],
                        status=payload["connectorStatus"],
                        timestamp=parse_timestamp(payload["timestamp"]))


def _token(token: dict | None) -> IdToken | None:
    if not token:
        return None
    return IdToken(value=token["idToken"], type=TokenType(token["type"]))


def id_token(action: str, payload: dict) -> IdToken | None:
    """The token a call presents: Authorize or TransactionEvent."""
    return _token(payload.get("idToken"))


def authorization_answer(action: str, decision: AuthorizationDecision | None,
                         transaction_id: str | None = None) -> dict:
    if decision is None:
        return {}
    return {"idTokenInfo": _id_token_info(decision.status, decision.expires_at,
                                          decision.group_id)}


def transaction_event(action: str, payload: dict, answer: dict | None) -> TransactionEvent | None:
    if action != "TransactionEvent":
        return None
    info = payload["transactionInfo"]
    evse = payload.get("evse") or {}
    kind = TransactionEventKind(payload["eventType"])
    return TransactionEvent(
        key=f"seq:{payload['seqNo']}", kind=kind, transaction_id=info["transactionId"],
        timestamp=parse_timestamp(payload["timestamp"]),
        evse_id=evse.get("id"), connector_id=evse.get("connectorId"),
        id_token=_token(payload.get("idToken")), trigger_reason=payload["triggerReason"],
        offline=payload.get("offline", False),
        stop_reason=(info.get("stoppedReason", "Local") if kind is TransactionEventKind.ENDED
                     else None),
        readings=energy_readings(VERSION, action, payload),
        remote_start_id=info.get("remoteStartId"))


def transaction_of(action: str, payload: dict) -> str | None:
    if action == "TransactionEvent":
        return payload["transactionInfo"]["transactionId"]
    return None


def reservation_of(action: str, payload: dict) -> tuple[int | None, int | None]:
    """The reservation a TransactionEvent names (if any) and the EVSE it is on, where the
    event starts the transaction or its token authorizes it; (None, None) for the others,
    which a reservation made later for that EVSE must not refuse."""
    if action != "TransactionEvent" or (payload["eventType"] != "Started"
                                        and payload["triggerReason"] != "Authorized"):
        return None, None
    return payload.get("reservationId"), (payload.get("evse") or {}).get("id")


def reservation_update(payload: dict) -> tuple[int, str]:
    """ReservationStatusUpdate: which reservation, and how it ended (Expired, Removed)."""
    return payload["reservationId"], payload["reservationUpdateStatus"]


def report(payload: dict) -> tuple[int, int, bool, datetime, list[ReportPart]]:
    """NotifyReport: its requestId, seqNo, whether more parts follow (tbc), when it was
    made, and what it says of each variable."""
    parts = []
    for entry in payload.get("reportData") or []:
        component, variable = entry["component"], entry["variable"]
        evse = component.get("evse") or {}
        characteristics = entry.get("variableCharacteristics")
        parts.append(ReportPart(
            component=ComponentRef(name=component["name"], instance=component.get("instance"),
                                   evse_id=evse.get("id"),
                                   connector_id=evse.get("connectorId")),
            variable=Variable(
                name=variable["name"], instance=variable.get("instance"),
                attributes={attribute.get("type", "Actual"): Attribute(
                    value=attribute.get("value"), mutability=attribute.get("mutability"),
                    persistent=attribute.get("persistent"), constant=attribute.get("constant"))
                    for attribute in entry["variableAttribute"]},
                characteristics=Characteristics(
                    data_type=characteristics.get("dataType"), unit=characteristics.get("unit"),
                    min_limit=characteristics.get("minLimit"),
                    max_limit=characteristics.get("maxLimit"),
                    values_list=characteristics.get("valuesList"),
                    supports_monitoring=characteristics.get("supportsMonitoring"))
                if characteristics else None)))
    return (payload["requestId"], payload["seqNo"], payload.get("tbc", False),
            parse_timestamp(payload["generatedAt"]), parts)


def token_use(action: str, payload: dict) -> TokenUse | None:
    """An event with the token that authorizes the transaction counts it against the
    token (normally Started; Updated where the EV was plugged in first); its end, or the
    end of its authorization, releases it."""
    if action != "TransactionEvent":
        return None
    if payload["eventType"] == TransactionEventKind.ENDED \
            or payload["triggerReason"] in AUTHORIZATION_ENDED:
        return TokenUse.RELEASE
    if payload.get("idToken"):
        return TokenUse.CLAIM
    return None


def send_local_list(version: int, full: bool, entries: dict[str, LocalListEntry | None]) -> dict:
    """SendLocalList: ``None`` for a token removes it (differential updates only)."""
    listed = []
    for value, entry in sorted(entries.items()):
        item: dict = {"idToken": {"idToken": value,
                                  "type": (entry.type if entry and entry.type
                                           else TokenType.CENTRAL).value}}
        if entry is not None:
            item["idTokenInfo"] = _id_token_info(entry.status, entry.expires_at, entry.parent_id)
        listed.append(item)
    return {"versionNumber": version, "updateType": "Full" if full else "Differential",
            "localAuthorizationList": listed}


def local_list_version(payload: dict) -> int:
    return payload["versionNumber"]


def _id_token_info(status: AuthorizationStatus, expires_at: datetime | None,
                   group_id: str | None) -> dict:
    info: dict = {"status": status.value}
    if expires_at is not None:
        info["cacheExpiryDateTime"] = ocpp_timestamp(expires_at)
    if group_id is not None:
        info["groupIdToken"] = {"idToken": group_id, "type": TokenType.CENTRAL.value}
    return info


def signing_request(payload: dict) -> tuple[str, str, int | None]:
    """SignCertificate: the CSR, what it is for (without a type, the station's certificate
    for its CSMS connection) and the request id to answer with (2.1)."""
    return (payload["csr"], payload.get("certificateType", "ChargingStationCertificate"),
            payload.get("requestId"))


def certificate_signed(chain: str, certificate_type: str, request_id: int | None) -> dict:
    signed: dict[str, str | int] = {"certificateChain": chain,
                                    "certificateType": certificate_type}
    if request_id is not None:
        signed["requestId"] = request_id
    return signed


def renewal_trigger() -> tuple[str, dict]:
    return "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}


def installed_ids_requests(types: list[str]) -> list[tuple[str | None, dict]]:
    """GetInstalledCertificateIds: one call for every type asked for (all when none is)."""
    return [(None, {"certificateType": types} if types else {})]


def installed_ids(asked: str | None, answer: dict) -> list[dict]:
    """The certificates an answer lists, each with its type and hash data."""
    return [{"certificateType": chain["certificateType"]} | chain["certificateHashData"]
            for chain in answer.get("certificateHashDataChain", ())]
