"""The workers' answer to the edges' password checks (chargebus.security.password_check), and
the promotion of a rotated password once its station has used it.

Every check costs one scrypt in the hasher processes (password_checks), the same for
a station that is unknown, gave another user name or has no password (checked against
a decoy hash) as for a wrong password. A rotation's pending hash shares the current
one's salt, so that one scrypt answers for both.
"""
import logging

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from chargebus.bus import subjects
from chargebus.bus.serving import TaskPerMessage
from chargebus.security import password_check
from chargebus.security.password_check import Verdict
from chargebus.security.passwords import Match, decoy_hash
from chargebus.services.workers.password_checks import ChecksBusy, PasswordChecks
from chargebus.state.records import StationAccess, StationAdmission
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)


class PasswordCheck:
    def __init__(self, nc: Client, stores: Stores, checks: PasswordChecks):
        self._nc = nc
        self._stores = stores
        self._checks = checks
        self._decoy = decoy_hash()
        # Each check in a task of its own, so that the hashers work together; no bound
        # here: the hashers' queue bounds how many wait, and answers "busy" past it.
        self._requests = TaskPerMessage(nc)

    async def start(self) -> None:
        await self._checks.start()
        await self._requests.subscribe(subjects.password_check(),
                                       subjects.queue_group("passwords"), self._answer)

    async def stop(self) -> None:
        await self._requests.stop()
        await self._checks.stop()

    async def _answer(self, msg: Msg) -> None:
        try:
            asked = orjson.loads(msg.data)
            verdict = await self.check(str(asked["station_id"]), str(asked["user"]),
                                       str(asked["password"]))
        except (ValueError, KeyError, TypeError):
            verdict = Verdict.WRONG  # not an edge's request
        except Exception:  # the bus failed us: the edge says "try again later"
            log.exception("checking a password failed")
            verdict = Verdict.BUSY
        if msg.reply:
            await self._nc.publish(msg.reply, password_check.reply(verdict))

    async def check(self, station_id: str, user: str, password: str) -> Verdict:
        access = await self._stores.access.get(station_id)
        own = access if access is not None and access.password_hash and user == station_id \
            else None
        try:
            match = await self._checks.verify(
                password, own.password_hash if own and own.password_hash else self._decoy,
                own.pending_hash if own else None)
        except ChecksBusy:
            return Verdict.BUSY
        if own is None or match is Match.WRONG:
            return Verdict.WRONG
        if match is Match.PENDING:
            assert own.pending_hash is not None  # it matched the pending hash
            await self._promote(station_id, own.pending_hash)
        return Verdict.RIGHT

    async def _promote(self, station_id: str, pending: str) -> None:
        """The station connected with its new password: the old one goes, and the
        edges forget what they saw verified."""
        promoted = []

        def promote(current: StationAccess | None) -> StationAccess | None:
            if current is None or current.pending_hash != pending:
                return None  # promoted already, or rotated again meanwhile
            promoted.append(True)
            return StationAccess(station_id=station_id, password_hash=pending)

        def next_generation(current: StationAdmission | None) -> StationAdmission | None:
            if current is None:
                return None
            return current.model_copy(
                update={"password_generation": current.password_generation + 1})

        await self._stores.access.modify(promote, station_id)
        if promoted:
            await self._stores.admission.modify(next_generation, station_id)
            log.warning("security: station %s connected with its new password; the old one "
                        "no longer admits it", station_id)
