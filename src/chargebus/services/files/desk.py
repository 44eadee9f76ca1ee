"""What the file service decides, whichever protocol a file comes by: which grant a URL's
credentials open, where an upload goes, and the record of a file once it is whole."""
import secrets
from collections.abc import Callable
from datetime import datetime

from chargebus.files import grants
from chargebus.files.grants import Kind, Refusal
from chargebus.files.storage import LocalStorage
from chargebus.state.records import FileGrant, StoredFile
from chargebus.state.stores import Stores

_MESSAGES = {
    Refusal.UNKNOWN: "no such URL: it was never handed out, or it was long ago",
    Refusal.WRONG_SECRET: "these credentials do not open this URL",
    Refusal.WRONG_KIND: "this URL is for {other}s only",
    Refusal.EXPIRED: "this URL expired at {expires}",
}


class Refused(Exception):
    def __init__(self, refusal: Refusal, detail: str):
        super().__init__(detail)
        self.refusal = refusal


class FileDesk:
    def __init__(self, stores: Stores, storage: LocalStorage, clock: Callable[[], datetime]):
        self._stores = stores
        self.storage = storage
        self._clock = clock

    async def open(self, grant_id: str, secret: str, kind: Kind) -> FileGrant:
        """The grant these credentials open for ``kind``; Refused says why not."""
        grant = None
        if grants.GRANT_ID.fullmatch(grant_id):  # a key NATS takes; any other is unknown
            grant = await self._stores.file_grants.get(grant_id)
        refusal = grants.refusal(grant, secret, kind, self._clock())
        if refusal is None:
            assert grant is not None
            return grant
        other = "upload" if kind == "download" else "download"
        expires = grant.expires_at.isoformat() if grant else ""
        raise Refused(refusal, _MESSAGES[refusal].format(other=other, expires=expires))

    @staticmethod
    def upload_key(grant: FileGrant, name: str) -> str:
        """Where an upload named ``name`` goes: the grant's own key where it names one
        file (an operator's image, whose name it must carry), else its folder."""
        grants.check_name(name)
        if grant.name is not None:
            if name != grant.name:
                raise ValueError(f"this URL takes {grant.name}, not {name}")
            return grant.key
        return f"{grant.key}/{name}"

    async def stored(self, grant: FileGrant, key: str, name: str, size: int, sha256: str,
                     via: str) -> StoredFile:
        image = grant.purpose == grants.FIRMWARE and grant.name is not None
        record = StoredFile(
            file_id=grants.image_file_id(name) if image else secrets.token_hex(8), key=key,
            name=name, size=size, sha256=sha256,
            stored_at=self._clock(), purpose=grant.purpose, via=via,
            station_id=grant.station_id, request_id=grant.request_id,
            grant_id=grant.grant_id)
        await self._stores.files.put(record, record.file_id)
        return record
