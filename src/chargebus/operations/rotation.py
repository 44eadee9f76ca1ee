"""Rotating a station's password without locking it out (OCPP 2.x A01 "Update Charging
Station Password for HTTP Basic Authentication"; the 1.6 security whitepaper's
AuthorizationKey).

The new password's hash is stored as pending beside the current one (with its salt,
chargebus.security.passwords.hash_pending), then the station is told the new password. Both
admit it until it connects with the new one; the workers then promote it and the old
one stops working (chargebus.services.workers.passwords). A station that refuses the new
password, or does not answer, keeps the old one: the pending hash is dropped.
"""
import secrets
import string

from nats.aio.client import Client

from chargebus.ocpp import OcppVersion
from chargebus.operations.commands import CommandReply, call_station, taken
from chargebus.security.passwords import MAX_LENGTH, WeakPassword, check_length, hash_pending
from chargebus.state.records import StationAccess
from chargebus.state.stores import Stores

# 1.6 security whitepaper: the AuthorizationKey is 16 to 20 bytes, sent as their hex;
# the station uses the bytes themselves as its Basic password.
AUTHORIZATION_KEY_BYTES = (16, 20)
ALPHABET = string.ascii_letters + string.digits


def generated(version: OcppVersion) -> str:
    """A random password as long as the version allows (printable, so that a 1.6
    station's key, once decoded, is the same text)."""
    length = AUTHORIZATION_KEY_BYTES[1] if version is OcppVersion.V16 else MAX_LENGTH
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def check_for(version: OcppVersion, password: str) -> None:
    """WeakPassword where the version cannot carry ``password``."""
    check_length(password)
    low, high = AUTHORIZATION_KEY_BYTES
    if version is OcppVersion.V16 and not low <= len(password.encode()) <= high:
        raise WeakPassword(f"a 1.6 station's password (its AuthorizationKey) has {low} to "
                           f"{high} bytes")


def password_call(version: OcppVersion, password: str) -> tuple[str, dict]:
    if version is OcppVersion.V16:
        return "ChangeConfiguration", {"key": "AuthorizationKey",
                                       "value": password.encode().hex()}
    return "SetVariables", {"setVariableData": [{
        "attributeType": "Actual", "attributeValue": password,
        "component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]}


class NoPassword(Exception):
    """The station has no password to rotate from."""


async def rotate(stores: Stores, nc: Client, station_id: str, version: OcppVersion, password: str,
                 timeout: float) -> CommandReply:
    """Store the pending hash, tell the station; drop the hash again unless it took it."""
    pending = {}

    def add_pending(current: StationAccess | None) -> StationAccess:
        if current is None or not current.password_hash:
            raise NoPassword(station_id)
        pending["hash"] = hash_pending(password, current.password_hash)
        return current.model_copy(update={"pending_hash": pending["hash"]})

    def drop_pending(current: StationAccess | None) -> StationAccess | None:
        if current is None or current.pending_hash != pending["hash"]:
            return None  # promoted already, or rotated again meanwhile
        return current.model_copy(update={"pending_hash": None})

    await stores.access.modify(add_pending, station_id)
    action, payload = password_call(version, password)
    reply = await call_station(nc, station_id, action, payload, timeout)
    if not taken(action, reply):
        await stores.access.modify(drop_pending, station_id)
    return reply

