"""Moving a station up a security profile, as the specs say: 2.x A05 "Upgrade Charging
Station Security Profile" (a network profile in a free configuration slot, that slot
first in OCPPCommCtrlr.NetworkConfigurationPriority, then a Reset); 1.6 the security
whitepaper's SecurityProfile configuration key (the station reconnects by itself).

The station's record is raised only once it has connected with the new profile: a
station that cannot connect so falls back to its previous network profile (A05), and
must still be admitted there. From then on an edge of a lower profile refuses it.
"""
import asyncio
from dataclasses import dataclass

from nats.aio.client import Client

from chargebus.ocpp import OcppVersion
from chargebus.operations.commands import CommandReply, call_station, taken
from chargebus.state.edges import running_edge
from chargebus.state.records import Presence, StationAdmission
from chargebus.state.stores import Stores

PRIORITY = {"component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "NetworkConfigurationPriority"}}
MESSAGE_TIMEOUT = 30  # seconds, the spec's own suggestion for a network profile
RECONNECT_POLL_SECONDS = 0.5
NETWORK_VERSION = {OcppVersion.V201: "OCPP20", OcppVersion.V21: "OCPP21"}


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    reply: CommandReply

    @property
    def taken(self) -> bool:
        return taken(self.action, self.reply)


def connection_data(version: OcppVersion, profile: int, url: str, interface: str) -> dict:
    return {"ocppVersion": NETWORK_VERSION[version], "ocppTransport": "JSON",
            "ocppCsmsUrl": url, "messageTimeout": MESSAGE_TIMEOUT,
            "securityProfile": profile, "ocppInterface": interface}


async def send_upgrade(nc: Client, station_id: str, version: OcppVersion, profile: int,
                       url: str | None, slot: int, interface: str,
                       timeout: float) -> list[Step]:
    """The calls of the procedure, in order, up to the first the station did not take."""
    steps: list[Step] = []

    async def step(action: str, payload: dict) -> bool:
        steps.append(Step(action, await call_station(nc, station_id, action, payload, timeout)))
        return steps[-1].taken

    if version is OcppVersion.V16:
        await step("ChangeConfiguration", {"key": "SecurityProfile", "value": str(profile)})
        return steps
    assert url is not None  # 2.x: the caller finds one when not given
    others = await _other_slots(nc, station_id, slot, timeout)
    if not await step("SetNetworkProfile", {
            "configurationSlot": slot,
            "connectionData": connection_data(version, profile, url, interface)}):
        return steps
    if not await step("SetVariables", {"setVariableData": [PRIORITY | {
            "attributeValue": ",".join([str(slot), *others])}]}):
        return steps
    await step("Reset", {"type": "OnIdle"})
    return steps


async def _other_slots(nc: Client, station_id: str, slot: int, timeout: float) -> list[str]:
    """The slots the station tries now, kept after the new one as its fallbacks."""
    reply = await call_station(nc, station_id, "GetVariables",
                               {"getVariableData": [PRIORITY]}, timeout)
    results = (reply.body.get("getVariableResult") if reply.ok else None) or [{}]
    value = results[0].get("attributeValue") or ""
    return [each.strip() for each in value.split(",")
            if each.strip() and each.strip() != str(slot)]


async def reconnected_with(nc: Client, stores: Stores, station_id: str, before: Presence,
                           profile: int, wait: float) -> bool:
    """Whether the station comes back, within ``wait`` seconds, on an edge that runs
    ``profile`` or higher."""
    async def came_back() -> bool:
        while True:
            now = await stores.presence.get(station_id)
            if now is not None and now.online and now.connection_id != before.connection_id:
                edge = await running_edge(nc, now.edge_id)
                if edge is not None and edge.security_profile >= profile:
                    return True
            await asyncio.sleep(RECONNECT_POLL_SECONDS)

    try:
        return await asyncio.wait_for(came_back(), wait)
    except TimeoutError:
        return False


async def set_lowest_profile(stores: Stores, station_id: str, profile: int) -> None:
    def change(current: StationAdmission | None) -> StationAdmission:
        base = current or StationAdmission(station_id=station_id)
        return base.model_copy(update={"security_profile": profile})

    await stores.admission.modify(change, station_id)
