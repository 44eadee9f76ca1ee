"""Id tokens: may this token charge here and now? And the count of its transactions
under way, which the answers keep: a start is counted before the station hears it was
accepted, a stop released before the station hears it was taken, so that every later
Authorize or start of the token, on any worker, sees both."""
import asyncio
from datetime import timedelta

from chargebus.bus.events import CallContext
from chargebus.domain import sessions
from chargebus.domain.model import AuthorizationDecision, IdToken, TokenUse
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.runtime.config import Settings
from chargebus.state.records import ActiveTransactions, Claim
from chargebus.state.stores import Stores, active_key, claim_key, token_key


class Authorization:
    def __init__(self, stores: Stores, settings: Settings):
        self._stores = stores
        self._remembered = timedelta(seconds=settings.claim_grace_seconds)

    async def decide(self, id_token: IdToken, own_transaction: str | None = None
                     ) -> AuthorizationDecision:
        """The same rule for Authorize and for the token inside a transaction call;
        ``own_transaction`` ("<station>/<id>") is the one the call is about."""
        token, active = await asyncio.gather(
            self._stores.tokens.get(token_key(id_token.value)),
            self._stores.active.get(*active_key(id_token.value)))
        return sessions.authorization(token, list(active.transactions) if active else [],
                                      utc_now(), own_transaction)

    async def authorize(self, context: CallContext, payload: dict) -> dict:
        convert = converter(context.version)
        decision = await self.decide(convert.id_token(context.action, payload))
        return convert.authorization_answer(context.action, decision)

    async def admit(self, id_token: IdToken | None, use: TokenUse | None, station_id: str,
                    transaction_id: str) -> AuthorizationDecision | None:
        """The decision on the token of a transaction call (None where it carries none),
        with what the call does to the token's count done."""
        if use is TokenUse.CLAIM and id_token is not None:
            return await self._claim(id_token, station_id, transaction_id)
        reference = f"{station_id}/{transaction_id}"
        decision, _ = await asyncio.gather(
            self.decide(id_token, reference) if id_token is not None else _nothing(),
            self._release(station_id, transaction_id) if use is TokenUse.RELEASE
            else _nothing())
        return decision

    async def drop(self, id_token: str, reference: str) -> None:
        """No longer count a transaction that ended without its stop releasing it."""
        await self._stores.active.modify(
            lambda current: sessions.without(current, reference), *active_key(id_token))

    async def _claim(self, id_token: IdToken, station_id: str, transaction_id: str
                     ) -> AuthorizationDecision:
        reference = f"{station_id}/{transaction_id}"
        # The token is read while the list is: one round trip, then one write.
        reading = asyncio.ensure_future(self._stores.tokens.get(token_key(id_token.value)))
        decisions: list[AuthorizationDecision] = []

        async def counting(current: ActiveTransactions | None) -> ActiveTransactions | None:
            decision, listing = sessions.claim(current, await reading, id_token.value,
                                               reference, utc_now(), self._remembered)
            decisions.append(decision)
            return listing

        # The note of the token goes with the claim, refused or not: a stop of a refused
        # start releases nothing, and remembers it as released.
        await asyncio.gather(
            self._stores.active.modify(counting, *active_key(id_token.value)),
            self._stores.claims.put(Claim(id_token=id_token.value),
                                    *claim_key(station_id, transaction_id)),
            reading)
        return decisions[-1]

    async def _release(self, station_id: str, transaction_id: str) -> None:
        claim = await self._stores.claims.get(*claim_key(station_id, transaction_id))
        if claim is None:  # no start with a token was answered for it
            return
        await self._stores.active.modify(
            lambda current: sessions.release(current, claim.id_token,
                                             f"{station_id}/{transaction_id}", utc_now(),
                                             self._remembered),
            *active_key(claim.id_token))


async def _nothing() -> None:
    return None
