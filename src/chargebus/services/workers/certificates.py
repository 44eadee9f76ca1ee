"""Station certificates: SignCertificate answered, the accepted CSR signed and sent back
(CertificateSigned), and a watch on certificates near their end.

A CSR is signed only for a station that proved its id when it connected (profile 3, or
1 and 2 with its own password): under profile 0 anyone may connect under any id.

The sequence of OCPP 2.0.1 A02/A03 (1.6 security whitepaper, the same): the answer to
SignCertificate says only whether the CSR will be signed; the chain goes out after it,
as a call of its own, once the CA signed. A V2GCertificate CSR is Rejected: chargebus is
no V2G PKI, and a certificate from its CA is one no EV trusts.

The watch: every worker looks at the online stations now and then; a station whose
certificate ends within the renewal window is asked for a new CSR, at most once per
repeat interval, by whichever worker notes it first in its record.
"""
import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from nats.aio.client import Client

from chargebus.bus.events import CallContext
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.runtime.config import Settings
from chargebus.runtime.periodic import Periodic
from chargebus.security import certificates
from chargebus.security.authority import Authority
from chargebus.security.csr import CsrRefused, checked_csr
from chargebus.state.edges import running_edge
from chargebus.state.records import StationCertificates
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)

SIGNED_TYPES = ("ChargingStationCertificate",)
# How long a station has to answer CertificateSigned or a renewal trigger.
CALL_TIMEOUT = 60.0
STOP_WAIT_SECONDS = 5.0  # within the supervisor's grace (embedded.STOP_GRACE_SECONDS)


class Certificates:
    def __init__(self, nc: Client, stores: Stores, settings: Settings, authority: Authority,
                 clock: Callable[[], datetime] = utc_now):
        self._nc = nc
        self._stores = stores
        self._authority = authority
        self._organization = settings.certificate_organization
        self._policy = certificates.RenewalPolicy(
            renew_before=timedelta(days=settings.certificate_renew_before_days),
            repeat=timedelta(hours=settings.certificate_renew_repeat_hours))
        self._clock = clock
        self._tasks: set[asyncio.Task] = set()
        self._watching = Periodic(settings.certificate_check_seconds, self.watch,
                                  "the certificate expiry watch", log)

    async def sign_certificate(self, context: CallContext, payload: dict) -> dict:
        station_id = context.station_id
        pem, certificate_type, request_id = converter(context.version).signing_request(payload)
        try:
            await self._check_identity(context)
            if certificate_type not in SIGNED_TYPES:
                raise CsrRefused(f"a {certificate_type}: chargebus signs only station "
                                 "certificates for its own connection, it is no V2G PKI")
            csr = checked_csr(pem, station_id, self._organization)
        except CsrRefused as refusal:
            log.warning("security: CSR of station %s refused: %s", station_id, refusal)
            because = str(refusal)
            await self._stores.certificates.modify(
                lambda current: (current or StationCertificates(station_id=station_id))
                .model_copy(update={"refused_at": self._clock(),
                                    "refused_because": because}), station_id)
            return {"status": "Rejected"}
        # Sent after the answer, as the use case has it: the task runs once this
        # handler returned and the answer is on its way.
        self._spawn(certificates.deliver(self._nc, self._stores, self._authority, station_id,
                                         context.version, csr, certificate_type, request_id,
                                         CALL_TIMEOUT))
        return {"status": "Accepted"}

    async def _check_identity(self, context: CallContext) -> None:
        """CsrRefused unless the station proved who it is: a certificate for an id
        goes only to whoever holds it. Profile 3: its certificate did; 1 and 2: the
        password of its access record did (an unknown station admitted without one
        proved nothing); 0: nothing did."""
        edge = await running_edge(self._nc, context.edge_id)
        if edge is None:
            raise CsrRefused(f"its edge {context.edge_id} does not answer: its security "
                             "profile is unknown")
        if edge.security_profile == 3:
            return
        if edge.checks_passwords:
            access = await self._stores.access.get(context.station_id)
            if access is not None and access.password_hash is not None:
                return
            raise CsrRefused("it connected without a password of its own (an unknown "
                             "station admitted)")
        raise CsrRefused(f"it connected to {edge.node_id}, under security profile "
                         f"{edge.security_profile}, where stations prove nothing")

    def start_watching(self) -> None:
        self._watching.start()

    async def stop(self) -> None:
        """Let the calls under way end, within the stop's grace: a station may take a
        minute to answer, and one cut short asks again by its own rules."""
        self._watching.stop()
        if self._tasks:
            _, unfinished = await asyncio.wait(list(self._tasks), timeout=STOP_WAIT_SECONDS)
            for task in unfinished:
                task.cancel()

    async def watch(self) -> None:
        """Ask every online station whose certificate ends soon for a new CSR, where
        no worker did within the repeat interval."""
        now = self._clock()
        for presence in await self._stores.presence.all():
            if not presence.online:
                continue
            station_id = presence.station_id
            record = await self._stores.certificates.get(station_id)
            if not self._policy.due(record, presence, now):
                continue
            if not await certificates.claim_renewal(self._stores, station_id, self._policy,
                                                    presence, now):
                continue
            ends = certificates.ends(record, presence)
            assert ends is not None  # due() only for a certificate that ends
            log.info("%s: its certificate ends %s; asking for a new CSR", station_id,
                     ends.isoformat())
            self._spawn(certificates.request_renewal(self._nc, self._stores, station_id,
                                                     presence.version, CALL_TIMEOUT,
                                                     lambda: now))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("certificate work failed", exc_info=task.exception())
