"""Station certificates: delivering what a CA signed, asking for renewals, and the
certificates a station keeps (install, list, delete).

What chargebus knows of each station's client certificate is in KV ``certificates``
(records.StationCertificates): the last one it had signed and how the station answered,
and the renewal last asked for. A station's first certificate (made by the operator,
before chargebus knew it) is known from its connection: under profile 3 the edge puts
the certificate it verified in the station's presence record, and the expiry watch
takes whichever of the two ends later.
"""
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from nats.aio.client import Client

from chargebus.ocpp import OcppVersion
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.operations.commands import CommandReply, Outcome, call_station
from chargebus.security.authority import Authority, SigningFailed, chain_leaf, facts_of
from chargebus.state.records import (CertificateFacts, IssuedCertificate, Presence,
                                     StationCertificates)
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)


def answer_of(reply: CommandReply) -> str:
    """A station's status, or how the call ended without one."""
    if reply.ok:
        return str(reply.body.get("status", "answered"))
    return reply.outcome.value


def _record(current: StationCertificates | None, station_id: str) -> StationCertificates:
    return current or StationCertificates(station_id=station_id)


async def deliver(nc: Client, stores: Stores, authority: Authority, station_id: str,
                  version: OcppVersion, csr: x509.CertificateSigningRequest,
                  certificate_type: str, request_id: int | None,
                  timeout: float) -> IssuedCertificate | None:
    """Have an accepted CSR signed and send the chain in CertificateSigned; the record
    notes what was issued and the station's answer. None where nothing was signed."""
    try:
        chain = await authority.sign(csr, station_id, certificate_type)
    except SigningFailed as failure:
        log.warning("security: no certificate for %s: %s", station_id, failure)
        because = str(failure)
        await stores.certificates.modify(lambda current: _record(current, station_id).model_copy(
            update={"refused_at": utc_now(), "refused_because": because}), station_id)
        return None
    issued = IssuedCertificate(**facts_of(chain_leaf(chain)).model_dump(), issued_at=utc_now())
    await stores.certificates.modify(lambda current: _record(current, station_id).model_copy(
        update={"issued": issued}), station_id)
    payload = converter(version).certificate_signed(chain, certificate_type, request_id)
    reply = await call_station(nc, station_id, "CertificateSigned", payload, timeout)
    issued = issued.model_copy(update={"sent_at": utc_now(), "answer": answer_of(reply)})
    accepted = issued.answer == "Accepted"
    if not accepted:
        log.warning("security: %s did not take its new certificate %s: %s %s",
                    station_id, issued.serial, reply.outcome.value, reply.body)

    def answered(current: StationCertificates | None) -> StationCertificates:
        update: dict = {"issued": issued}
        if accepted:
            update["current"] = CertificateFacts(**issued.model_dump(
                include={"serial", "fingerprint", "not_after"}))
        return _record(current, station_id).model_copy(update=update)
    await stores.certificates.modify(answered, station_id)
    return issued


def ends(record: StationCertificates | None, presence: Presence | None) -> datetime | None:
    """When the station's client certificate ends: the later of the one it accepted
    from chargebus and the one it last connected with."""
    known = [facts.not_after for facts in (record.current if record else None,
                                           presence.certificate if presence else None)
             if facts is not None]
    return max(known, default=None)


@dataclass(frozen=True)
class RenewalPolicy:
    renew_before: timedelta
    repeat: timedelta

    def due(self, record: StationCertificates | None, presence: Presence | None,
            now: datetime) -> bool:
        """Whether a renewal is to be asked for now."""
        end = ends(record, presence)
        if end is None or end - now > self.renew_before:
            return False
        asked = record.renewal_requested_at if record else None
        return asked is None or now - asked >= self.repeat


async def claim_renewal(stores: Stores, station_id: str, policy: RenewalPolicy,
                        presence: Presence, now: datetime) -> bool:
    """Note that a renewal is asked for now, if one is due; False where it is not, or
    where another worker noted it first (compare-and-set on the record)."""
    claimed = False

    def claim(current: StationCertificates | None) -> StationCertificates | None:
        nonlocal claimed
        claimed = policy.due(current, presence, now)
        if not claimed:
            return None
        return _record(current, station_id).model_copy(
            update={"renewal_requested_at": now, "renewal_answer": None})
    await stores.certificates.modify(claim, station_id)
    return claimed


async def request_renewal(nc: Client, stores: Stores, station_id: str, version: OcppVersion,
                          timeout: float,
                          clock: Callable[[], datetime] = utc_now) -> CommandReply:
    """Ask the station to send a new CSR (2.x TriggerMessage, 1.6 ExtendedTriggerMessage
    SignChargePointCertificate) and note its answer. A station that was not there to be
    asked is not noted as asked: the watch asks it again once it is back."""
    action, payload = converter(version).renewal_trigger()
    reply = await call_station(nc, station_id, action, payload, timeout)
    asked_at = None if reply.outcome is Outcome.OFFLINE else clock()

    def answered(current: StationCertificates | None) -> StationCertificates:
        return _record(current, station_id).model_copy(update={
            "renewal_requested_at": asked_at, "renewal_answer": answer_of(reply)})
    await stores.certificates.modify(answered, station_id)
    return reply


async def installed(nc: Client, station_id: str, version: OcppVersion, types: list[str],
                    timeout: float) -> tuple[list[dict], CommandReply | None]:
    """GetInstalledCertificateIds: the certificates of the types asked for (all when
    none is), each with its type and hash data; and the reply that ended the asking
    short, if one did (NotFound is an empty list, not a failure)."""
    convert = converter(version)
    listed: list[dict] = []
    for asked, payload in convert.installed_ids_requests(types):
        reply = await call_station(nc, station_id, "GetInstalledCertificateIds", payload, timeout)
        if reply.outcome is not Outcome.RESULT:
            return listed, reply
        listed += convert.installed_ids(asked, reply.body)
    return listed, None
