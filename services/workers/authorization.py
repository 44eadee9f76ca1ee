"""Id tokens: may this token charge here and now?"""
from chargebus import sessions
from chargebus.clock import utc_now
from chargebus.convert import converter
from chargebus.events import CallContext
from chargebus.model import AuthorizationDecision, IdToken
from chargebus.stores import Stores, active_key, token_key


class Authorization:
    def __init__(self, stores: Stores):
        self._stores = stores

    async def decide(self, id_token: IdToken, own_transaction: str | None = None
                     ) -> AuthorizationDecision:
        """The same rule for Authorize and for the token inside a transaction call;
        ``own_transaction`` ("<station>/<id>") is the one the call is about."""
        token = await self._stores.tokens.get(token_key(id_token.value))
        active = await self._stores.active.get(*active_key(id_token.value))
        return sessions.authorization(token, active.transactions if active else [], utc_now(),
                                      own_transaction)

    async def authorize(self, context: CallContext, payload: dict) -> dict:
        convert = converter(context.version)
        decision = await self.decide(convert.id_token(context.action, payload))
        return convert.authorization_answer(context.action, decision)
