"""The operator's operations (chargebus.domain.operations through
chargebus.operations.perform) against a 1.6, a 2.0.1 and a 2.1 station of the `ocpp`
package that answers them as a real one does: taken, rejected by the station, refused
by chargebus, the station offline, the station silent."""
import asyncio
import subprocess
import uuid
from datetime import timedelta

import orjson
import pytest

from conftest import eventually, ocpp_station
from operation_stations import STATIONS
from chargebus.domain.model import AuthorizationStatus, IdToken, TokenType
from chargebus.domain.operations import (Availability, CancelReservation, ChangeAvailability,
                                         ClearCache, DataTransfer, GetConfiguration,
                                         ReadDeviceModel, Reset, ReserveNow, ResetKind,
                                         ResetWhen, SetConfiguration, StartCharging,
                                         StopCharging, TriggerMessage, UnlockConnector,
                                         VariableName, VariableSetting)
from chargebus.ocpp.clock import utc_now
from chargebus.operations.commands import Outcome
from chargebus.operations.perform import perform, transaction_of
from chargebus.state.records import Token
from chargebus.state.stores import Stores, token_key, transaction_key

pytestmark = pytest.mark.asyncio(loop_scope="session")

VERSIONS = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
SENDER = "test"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _present(bus, station_id: str):
    presence = await Stores(bus.jetstream()).presence.get(station_id)
    return presence is not None and presence.online


async def _token(bus, status: AuthorizationStatus = AuthorizationStatus.ACCEPTED,
                 type: TokenType | None = None, max_active: int = 1) -> str:
    value = new_id("TOK").upper()[:20]
    await Stores(bus.jetstream()).tokens.put(
        Token(id_token=value, status=status, type=type, max_active=max_active),
        token_key(value))
    return value


class Connected:
    """A station of one version, connected and known to be so."""

    def __init__(self, system, bus, subprotocol: str):
        self.system, self.bus, self.subprotocol = system, bus, subprotocol
        self.station_id = new_id("OP" + subprotocol.removeprefix("ocpp").replace(".", ""))

    async def __aenter__(self):
        self._context = ocpp_station(self.system, self.station_id, STATIONS[self.subprotocol],
                                     [self.subprotocol], self.subprotocol)
        self.station = await self._context.__aenter__()
        assert await eventually(lambda: _present(self.bus, self.station_id))
        return self

    async def __aexit__(self, *exc_info):
        await self._context.__aexit__(*exc_info)

    async def perform(self, operation, **options):
        return await perform(self.bus, self.station_id, operation, sender=SENDER,
                             timeout=options.pop("timeout", 10), **options)

    @property
    def is_16(self) -> bool:
        return self.subprotocol == "ocpp1.6"


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_a_remote_start_goes_with_an_authorized_token(system, bus, subprotocol):
    token = await _token(bus, type=TokenType.ISO14443)
    async with Connected(system, bus, subprotocol) as connected:
        performed = await connected.perform(StartCharging(id_token=IdToken(value=token),
                                                          evse_id=2))
        transaction_id = await transaction_of(bus, performed, timeout=15)
        starts = connected.station.remote_starts
        began = [str(each) for each in connected.station.transactions]
    record = await Stores(bus.jetstream()).transactions.get(
        *transaction_key(connected.station_id, transaction_id))
    # The transaction the station began links to the request and its sender.
    assert began == [transaction_id]
    assert (record.remote_start_id, record.started_by) == (
        performed.operation.remote_start_id, SENDER)
    assert performed.outcome is Outcome.RESULT and performed.taken
    assert performed.result.status == "Accepted"
    if connected.is_16:
        assert performed.action == "RemoteStartTransaction"
        assert starts == [{"id_tag": token, "connector_id": 2}]
    else:
        assert performed.action == "RequestStartTransaction"
        # The token goes with the type chargebus knows for it, and an id of its own.
        assert starts == [{"id_token": {"id_token": token, "type": "ISO14443"},
                           "remote_start_id": performed.operation.remote_start_id,
                           "evse_id": 2}]
        assert performed.operation.remote_start_id > 0


@pytest.mark.parametrize("subprotocol", VERSIONS)
@pytest.mark.parametrize("status", [AuthorizationStatus.BLOCKED, AuthorizationStatus.EXPIRED,
                                    None])
async def test_a_remote_start_for_a_token_chargebus_refuses_is_never_sent(
        system, bus, subprotocol, status):
    token = await _token(bus, status) if status else new_id("UNKNOWN").upper()[:20]
    async with Connected(system, bus, subprotocol) as connected:
        refused = await connected.perform(StartCharging(id_token=IdToken(value=token)))
        forced = await connected.perform(StartCharging(id_token=IdToken(value=token)),
                                         force=True)
        starts = len(connected.station.remote_starts)
    assert refused.outcome is Outcome.REFUSED and not refused.taken
    assert refused.reason.startswith(
        f"token {token} is {status.value if status else 'unknown to chargebus'}")
    # Forced, it goes, and only that one reached the station.
    assert forced.outcome is Outcome.RESULT and forced.taken and starts == 1


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_remote_stop_reset_availability_unlock_trigger_and_clear_cache(
        system, bus, subprotocol):
    async with Connected(system, bus, subprotocol) as connected:
        stop = await connected.perform(StopCharging(
            transaction_id="7" if connected.is_16 else "tx-7"))
        stop_unknown = await connected.perform(StopCharging(
            transaction_id="8" if connected.is_16 else "tx-8"))
        reset = await connected.perform(Reset(kind=ResetKind.HARD))
        inoperative = await connected.perform(ChangeAvailability(
            availability=Availability.INOPERATIVE, evse_id=2))
        whole = await connected.perform(ChangeAvailability(availability=Availability.OPERATIVE))
        no_such_evse = await connected.perform(ChangeAvailability(
            availability=Availability.OPERATIVE, evse_id=9))
        unlock = await connected.perform(UnlockConnector(evse_id=1))
        unlock_missing = await connected.perform(UnlockConnector(evse_id=5))
        trigger = await connected.perform(TriggerMessage(message="StatusNotification",
                                                         evse_id=1))
        clear = await connected.perform(ClearCache())
        availability = dict(connected.station.availability)
    assert (stop.taken, stop.result.status) == (True, "Accepted")
    assert (stop_unknown.taken, stop_unknown.result.status) == (False, "Rejected")
    assert (reset.taken, reset.result.status) == (True, "Accepted")
    assert inoperative.taken and whole.taken
    assert (no_such_evse.taken, no_such_evse.result.status) == (False, "Rejected")
    assert (unlock.taken, unlock.result.status) == (True, "Unlocked")
    assert (unlock_missing.taken, unlock_missing.result.status) == (
        False, "NotSupported" if connected.is_16 else "UnknownConnector")
    assert trigger.taken and clear.taken
    if connected.is_16:
        assert availability == {2: "Inoperative", 0: "Operative"}
    else:
        assert availability == {(2, None): "Inoperative", (0, None): "Operative"}
        assert no_such_evse.result.reason == "UnknownEvse"


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_configuration_is_read_and_changed(system, bus, subprotocol):
    async with Connected(system, bus, subprotocol) as connected:
        if connected.is_16:
            names = [VariableName(variable="HeartbeatInterval"),
                     VariableName(variable="NumberOfConnectors"),
                     VariableName(variable="NoSuchKey")]
        else:
            names = [VariableName(component="OCPPCommCtrlr", variable="HeartbeatInterval"),
                     VariableName(component="SecurityCtrlr", variable="SecurityProfile"),
                     VariableName(component="OCPPCommCtrlr", variable="NoSuchVariable")]
        changed = await connected.perform(SetConfiguration(settings=[
            VariableSetting(name=names[0], value="120")]))
        read_only = await connected.perform(SetConfiguration(settings=[
            VariableSetting(name=names[1], value="3")]))
        read = await connected.perform(GetConfiguration(names=names))
    assert changed.taken and changed.result.variables[0].status == "Accepted"
    assert changed.result.variables[0].value == "120"
    assert not read_only.taken and read_only.result.variables[0].status == "Rejected"
    values = {variable.name.label(): (variable.status, variable.value)
              for variable in read.result.variables}
    if connected.is_16:
        assert values == {"HeartbeatInterval": ("Accepted", "120"),
                          "NumberOfConnectors": ("Accepted", "2"),
                          "NoSuchKey": ("UnknownVariable", None)}
        assert [variable.read_only for variable in read.result.variables] == [False, True, None]
    else:
        assert values == {"OCPPCommCtrlr/HeartbeatInterval": ("Accepted", "120"),
                          "SecurityCtrlr/SecurityProfile": ("Accepted", "0"),
                          "OCPPCommCtrlr/NoSuchVariable": ("UnknownVariable", None)}


async def test_a_16_station_gives_its_whole_configuration(system, bus):
    async with Connected(system, bus, "ocpp1.6") as connected:
        read = await connected.perform(GetConfiguration())
    assert {variable.name.variable for variable in read.result.variables} == {
        "HeartbeatInterval", "NumberOfConnectors", "MeterValueSampleInterval"}


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_data_transfer_both_answers(system, bus, subprotocol):
    async with Connected(system, bus, subprotocol) as connected:
        known = await connected.perform(DataTransfer(vendor_id="com.example", message_id="ping",
                                                     data="hello"))
        unknown = await connected.perform(DataTransfer(vendor_id="org.other"))
    assert known.taken and known.result.data == ("echo:hello" if connected.is_16
                                                 else {"echo": "hello"})
    assert (unknown.taken, unknown.result.status) == (False, "UnknownVendorId")


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_a_reservation_is_made_and_cancelled(system, bus, subprotocol):
    token = await _token(bus)
    blocked = await _token(bus, AuthorizationStatus.BLOCKED)
    until = utc_now() + timedelta(minutes=10)
    async with Connected(system, bus, subprotocol) as connected:
        made = await connected.perform(ReserveNow(id_token=IdToken(value=token),
                                                  expires_at=until, evse_id=1))
        reservation_id = made.operation.reservation_id
        held = dict(connected.station.reservations)
        refused = await connected.perform(ReserveNow(id_token=IdToken(value=blocked),
                                                     expires_at=until))
        cancelled = await connected.perform(CancelReservation(reservation_id=reservation_id))
        again = await connected.perform(CancelReservation(reservation_id=reservation_id))
        left = dict(connected.station.reservations)
    assert made.taken and reservation_id is not None and list(held) == [reservation_id]
    assert refused.outcome is Outcome.REFUSED and "Blocked" in refused.reason
    assert cancelled.taken and not left
    assert (again.taken, again.result.status) == (False, "Rejected")


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_what_the_version_cannot_say_or_the_schema_refuses_is_never_sent(
        system, bus, subprotocol):
    async with Connected(system, bus, subprotocol) as connected:
        nonsense = await connected.perform(TriggerMessage(message="Nonsense"))
        if connected.is_16:
            missing = await connected.perform(Reset(when=ResetWhen.ON_IDLE))
            expected = "1.6 resets the whole station at once"
        else:
            missing = await connected.perform(GetConfiguration())
            expected = "2.x reads named variables"
        answered = len(connected.station.remote_starts)
    assert nonsense.outcome is Outcome.REFUSED and "schema" in nonsense.reason
    assert missing.outcome is Outcome.REFUSED and missing.reason.startswith(expected)
    assert answered == 0


async def test_a_station_never_seen_and_one_gone_are_offline(system, bus):
    never = await perform(bus, new_id("NEVER"), ClearCache(), sender=SENDER, timeout=5)
    async with Connected(system, bus, "ocpp2.0.1") as connected:
        pass
    await eventually(lambda: _absent(bus, connected.station_id))
    gone = await connected.perform(ClearCache())
    assert never.outcome is Outcome.OFFLINE and "never connected" in never.reason
    assert gone.outcome is Outcome.OFFLINE and "not connected" in gone.reason


async def _absent(bus, station_id: str) -> bool:
    return not await _present(bus, station_id)


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_a_silent_station_times_out(system, bus, subprotocol):
    async with Connected(system, bus, subprotocol) as connected:
        connected.station.silent = True
        performed = await connected.perform(ClearCache(), timeout=1)
    assert performed.outcome is Outcome.TIMEOUT and "did not answer" in performed.reason


async def _cli(system, *arguments: str) -> subprocess.CompletedProcess:
    """The command line, in a thread: the station answering it runs on this loop."""
    return await asyncio.to_thread(system.cli, *arguments)


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_the_command_line_in_operator_words(system, bus, subprotocol):
    token = await _token(bus)
    blocked = await _token(bus, AuthorizationStatus.BLOCKED)
    async with Connected(system, bus, subprotocol) as connected:
        station = connected.station_id
        start = await _cli(system, "start", station, "--token", token, "--evse", "1")
        refused = await _cli(system, "start", station, "--token", blocked)
        name = "HeartbeatInterval" if connected.is_16 else "OCPPCommCtrlr/HeartbeatInterval"
        changed = await _cli(system, "config", "set", station, f"{name}=90")
        read = await _cli(system, "config", "get", station, name, "--json")
        wrong = await _cli(system, "unlock", station, "7")
        reset = await _cli(system, "reset", station, *([] if connected.is_16 else ["--on-idle"]))
    assert (start.returncode, start.stderr) == (0, "")
    action = "RemoteStartTransaction" if connected.is_16 else "RequestStartTransaction"
    began = connected.station.transactions[0]
    assert start.stdout == f"{station}: {action} Accepted, transaction {began}\n"
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == (f"{station}: refused: token {blocked} is Blocked "
                              "(--force sends it all the same)\n")
    assert changed.returncode == 0 and f"{name} = 90: Accepted" in changed.stdout
    described = orjson.loads(read.stdout)
    assert described["outcome"] == "result" and described["result"]["variables"][0]["value"] == "90"
    assert wrong.returncode == 1 and "Unlocked" not in wrong.stdout
    assert reset.returncode == 0
    assert reset.stdout.strip().endswith("Scheduled" if not connected.is_16 else "Accepted")


async def test_the_command_line_refuses_bad_input_in_one_line(system):
    missing_value = await _cli(system, "config", "set", "CP-1", "HeartbeatInterval")
    bad_name = await _cli(system, "config", "get", "CP-1", "a/")
    bad_evse = await _cli(system, "unlock", "CP-1", "0")
    for done, message in ((missing_value, "chargebus config set: not NAME=VALUE: "
                                          "'HeartbeatInterval'\n"),
                          (bad_name, "chargebus config get: not a variable name: 'a/' "
                                     "(Component/Variable)\n"),
                          (bad_evse, "chargebus unlock: argument evse: a whole number of at "
                                     "least 1, not '0'\n")):
        assert (done.returncode, done.stdout, done.stderr) == (2, "", message)


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.1"])
async def test_a_remote_start_no_transaction_follows_is_said(system, bus, subprotocol):
    token = await _token(bus, max_active=0)
    async with Connected(system, bus, subprotocol) as connected:
        connected.station.starts_on_remote = False
        waited = await _cli(system, "start", connected.station_id, "--token", token,
                            "--wait", "2")
        # A start for another token on the same connector, later, is not the one asked for.
        connected.station.starts_on_remote = True
        other = await _token(bus)
        linked = await _cli(system, "start", connected.station_id, "--token", other)
    assert waited.returncode == 1 and waited.stdout.endswith(" Accepted\n")
    assert waited.stderr == f"{connected.station_id}: no transaction began within 2 s\n"
    assert linked.returncode == 0
    assert linked.stdout.endswith(f", transaction {connected.station.transactions[0]}\n")


def _each_operation(is_16: bool, token: str) -> dict[str, object]:
    """One of every operation, as each version can say it."""
    until = utc_now() + timedelta(minutes=10)
    return {
        "start": StartCharging(id_token=IdToken(value=token)),
        "stop": StopCharging(transaction_id="7" if is_16 else "tx-7"),
        "reset": Reset(),
        "availability": ChangeAvailability(availability=Availability.INOPERATIVE),
        "unlock": UnlockConnector(evse_id=1),
        "trigger": TriggerMessage(message="Heartbeat"),
        "clear-cache": ClearCache(),
        # 2.x stations refuse a change per variable: a read-only one.
        "config-set": SetConfiguration(settings=[VariableSetting(
            name=VariableName(variable="HeartbeatInterval") if is_16 else
            VariableName(component="SecurityCtrlr", variable="SecurityProfile"),
            value="2")]),
        "data-transfer": DataTransfer(vendor_id="com.example"),
        "reserve": ReserveNow(id_token=IdToken(value=token), expires_at=until),
        "cancel-reservation": CancelReservation(reservation_id=1),
        "config-fetch": ReadDeviceModel(),
    }


@pytest.mark.parametrize("subprotocol", VERSIONS)
async def test_every_operation_refused_by_the_station_silent_or_offline(system, bus,
                                                                      subprotocol):
    token = await _token(bus, max_active=0)
    is_16 = subprotocol == "ocpp1.6"
    async with Connected(system, bus, subprotocol) as connected:
        connected.station.refusing = True
        refused = {name: await connected.perform(operation)
                   for name, operation in _each_operation(is_16, token).items()}
        connected.station.refusing, connected.station.silent = False, True
        silent = {name: await connected.perform(operation, timeout=0.5)
                  for name, operation in _each_operation(is_16, token).items()}
        began = connected.station.transactions
    nobody = new_id("NOBODY")
    offline = {name: await perform(bus, nobody, operation, sender=SENDER, timeout=5)
               for name, operation in _each_operation(is_16, token).items()}
    expected = {name: "UnlockFailed" if name == "unlock" else "Rejected"
                for name in _each_operation(is_16, token)}
    if is_16:  # GetConfiguration has no refusal: the station says what it holds
        expected["config-fetch"] = "Accepted"
    assert {name: performed.result.status for name, performed in refused.items()} == expected
    assert [name for name, performed in refused.items() if performed.taken] == (
        ["config-fetch"] if is_16 else [])
    assert not began  # a refused remote start begins nothing
    assert {name: performed.outcome for name, performed in silent.items()} == dict.fromkeys(
        expected, Outcome.TIMEOUT)
    assert {name: performed.outcome for name, performed in offline.items()} == dict.fromkeys(
        expected, Outcome.OFFLINE)
