"""Id tokens: may this token charge here and now?"""
from chargebus.clock import utc_now
from chargebus.events import CallContext
from chargebus.protocol import OcppVersion
from chargebus.records import AuthorizationStatus
from chargebus.stores import Stores, token_key


class Authorization:
    def __init__(self, stores: Stores):
        self._stores = stores

    async def status_of(self, id_token: str) -> AuthorizationStatus:
        token = await self._stores.tokens.get(token_key(id_token))
        if token is None:
            return AuthorizationStatus.INVALID
        return token.authorization_at(utc_now())

    async def authorize(self, context: CallContext, payload: dict) -> dict:
        if context.version is OcppVersion.V16:
            return {"idTagInfo": {"status": await self.status_of(payload["idTag"])}}
        return {"idTokenInfo": {"status": await self.status_of(payload["idToken"]["idToken"])}}
