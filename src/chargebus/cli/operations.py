"""The operator's commands to stations, one per operation, in operator words:
`chargebus start`, `stop`, `reset`, `availability`, `unlock`, `trigger`, `clear-cache`,
`config get|set`, `data-transfer`, `reserve`, `reservations cancel`.

Each builds a chargebus.domain.operations model and hands it to
chargebus.operations.perform; what is decided about it is decided there. Exit 0 when the
station took it, 1 when it did not or could not answer, 2 when chargebus refused it.
"""
import argparse
import asyncio
import sys
from datetime import timedelta

import orjson

from chargebus.cli.common import (print_json, problem_of, seconds, sender, station_id,
                                  timestamp, token_id, whole_number, with_nats, with_stores)
from chargebus.domain.devicemodel import ComponentRef
from chargebus.manage import reservations
from chargebus.domain.model import IdToken, TokenType
from chargebus.domain.operations import (AttributeType, Availability, CancelReservation,
                                         ChangeAvailability, ClearCache, DataTransfer,
                                         GetConfiguration, Operation, ReadDeviceModel, Reset,
                                         ReserveNow,
                                         ResetKind, ResetWhen, SetConfiguration,
                                         StartCharging, StopCharging, TriggerMessage,
                                         UnlockConnector, VariableName, VariableSetting)
from chargebus.ocpp.clock import utc_now
from chargebus.operations import locations
from chargebus.operations.commands import DEFAULT_TIMEOUT, Outcome
from chargebus.operations.perform import Performed, perform, transaction_of
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores, components_of, reports_of

EVSE = whole_number(1)
CONNECTOR = whole_number(1)
RESERVATION = whole_number(0)
# How long `chargebus start` waits for the transaction: a driver has the station's
# connection timeout (often 60 to 120 s) to plug in.
DEFAULT_START_WAIT = 120
# A reservation held when neither --until nor --minutes says how long.
DEFAULT_RESERVATION = timedelta(minutes=15)


def register(commands) -> None:
    start = operation_command(commands, "start", "start charging: a remote start for a token")
    start.add_argument("--token", type=token_id, required=True, help="the id token to charge with")
    start.add_argument("--token-type", choices=[kind.value for kind in TokenType],
                       help="2.x token type (default: the token's own, else Central)")
    start.add_argument("--evse", type=EVSE, help="the EVSE (1.6: connector) to start on")
    start.add_argument("--group", type=token_id, help="2.x group id token")
    start.add_argument("--force", action="store_true",
                       help="send it even where chargebus would not authorize the token")
    start.add_argument("--wait", type=whole_number(0), default=DEFAULT_START_WAIT,
                       help="seconds to wait for the station to start the transaction, "
                            f"0 for not at all (default {DEFAULT_START_WAIT})")
    start.set_defaults(build=_start)

    stop = operation_command(commands, "stop", "stop charging: a remote stop of a transaction")
    stop.add_argument("transaction_id")
    stop.set_defaults(build=lambda a: StopCharging(transaction_id=a.transaction_id))

    reset = operation_command(commands, "reset", "reset a station (default: soft, at once)")
    reset.add_argument("--hard", action="store_true", help="1.6: a hard reset")
    reset.add_argument("--on-idle", action="store_true",
                       help="2.x: once no transaction is under way")
    reset.add_argument("--evse", type=EVSE, help="2.x: reset this EVSE only")
    reset.set_defaults(build=lambda a: Reset(
        kind=ResetKind.HARD if a.hard else ResetKind.SOFT,
        when=ResetWhen.ON_IDLE if a.on_idle else ResetWhen.IMMEDIATE, evse_id=a.evse))

    availability = operation_command(commands, "availability",
                            "make a station, an EVSE or a connector operative or inoperative")
    availability.add_argument("availability", type=str.capitalize,
                              choices=[state.value for state in Availability])
    availability.add_argument("--evse", type=EVSE, help="this EVSE only (1.6: connector)")
    availability.add_argument("--connector", type=CONNECTOR,
                              help="2.x: this connector of the EVSE only")
    availability.set_defaults(build=lambda a: ChangeAvailability(
        availability=a.availability, evse_id=a.evse, connector_id=a.connector))

    unlock = operation_command(commands, "unlock", "unlock a connector")
    unlock.add_argument("evse", type=EVSE, nargs="?", default=1,
                        help="the EVSE (1.6: connector; default 1)")
    unlock.add_argument("--connector", type=CONNECTOR, default=1,
                        help="2.x: the connector of the EVSE (default 1)")
    unlock.set_defaults(build=lambda a: UnlockConnector(evse_id=a.evse,
                                                        connector_id=a.connector))

    trigger = operation_command(commands, "trigger",
                                "ask a station to send one of its messages now")
    trigger.add_argument("message", help="e.g. StatusNotification, Heartbeat, MeterValues")
    trigger.add_argument("--evse", type=EVSE)
    trigger.add_argument("--connector", type=CONNECTOR, help="2.x only")
    trigger.set_defaults(build=lambda a: TriggerMessage(
        message=a.message, evse_id=a.evse, connector_id=a.connector))

    clear = operation_command(commands, "clear-cache", "clear a station's authorization cache")
    clear.set_defaults(build=lambda a: ClearCache())

    config = commands.add_parser(
        "config", help="read or change a station's configuration (1.6 keys, 2.x variables)"
    ).add_subparsers(title="config")
    get = operation_command(config, "get", "read configuration keys or variables")
    get.add_argument("names", nargs="*", metavar="NAME",
                     help="1.6: keys (none: all); 2.x: Component[.instance]/Variable[.instance]")
    _variable_options(get)
    get.set_defaults(build=lambda a: GetConfiguration(
        names=[name_of(text, a) for text in a.names]))
    change = operation_command(config, "set", "change configuration keys or variables")
    change.add_argument("settings", nargs="+", metavar="NAME=VALUE")
    _variable_options(change)
    change.set_defaults(build=lambda a: SetConfiguration(
        settings=[_setting(text, a) for text in a.settings]))

    fetch = operation_command(config, "fetch", "read the whole configuration into chargebus "
                     "(1.6 GetConfiguration; 2.x GetBaseReport, its reports kept as they come)")
    fetch.set_defaults(build=lambda a: ReadDeviceModel())
    show = config.add_parser("show", help="the configuration chargebus holds of a station")
    show.add_argument("station_id", type=station_id)
    show.add_argument("--component", help="2.x: this component's variables only")
    show.add_argument("--json", action="store_true", help="each component as a JSON line")
    show.set_defaults(command=_show_configuration)

    transfer = operation_command(commands, "data-transfer", "send a vendor's DataTransfer")
    transfer.add_argument("vendor_id")
    transfer.add_argument("--message-id")
    transfer.add_argument("--data", help="a string (1.6), or any JSON value (2.x)")
    transfer.set_defaults(build=lambda a: DataTransfer(
        vendor_id=a.vendor_id, message_id=a.message_id, data=_data(a.data)))

    reserve = operation_command(commands, "reserve", "reserve an EVSE (or any) for a token")
    reserve.add_argument("--token", type=token_id, required=True)
    reserve.add_argument("--token-type", choices=[kind.value for kind in TokenType])
    reserve.add_argument("--evse", type=EVSE, help="the EVSE (1.6: connector; default any)")
    reserve.add_argument("--group", type=token_id, help="its group (1.6: parent) id token")
    until = reserve.add_mutually_exclusive_group()
    until.add_argument("--until", type=timestamp, help="RFC 3339 end of the reservation")
    until.add_argument("--minutes", type=whole_number(1),
                       help=f"how long it holds (default {DEFAULT_RESERVATION.seconds // 60})")
    reserve.add_argument("--force", action="store_true",
                         help="send it even where chargebus would not authorize the token")
    reserve.set_defaults(build=_reserve)

    reservation_commands = commands.add_parser(
        "reservations", help="the reservations of stations").add_subparsers(title="reservations")
    listing = reservation_commands.add_parser(
        "list", help="the reservations chargebus made, and their state")
    listing.add_argument("station_id", type=station_id, nargs="?",
                         help="one station's (default: every station's)")
    listing.add_argument("--all", action="store_true",
                         help="also those ended in the last day (default: those in force "
                              "or awaiting the station's answer)")
    listing.add_argument("--json", action="store_true", help="each as a JSON line")
    listing.set_defaults(command=_list_reservations)
    cancel = operation_command(reservation_commands, "cancel", "cancel a reservation")
    cancel.add_argument("reservation_id", type=RESERVATION)
    cancel.set_defaults(build=lambda a: CancelReservation(reservation_id=a.reservation_id))


def operation_command(commands, name: str, help_text: str) -> argparse.ArgumentParser:
    """A command on one station, with what every operation takes."""
    parser = commands.add_parser(name, help=help_text)
    parser.add_argument("station_id", type=station_id)
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for the answer (default {DEFAULT_TIMEOUT:.0f})")
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(command=_perform, force=False, prog=parser.prog)
    return parser


def _variable_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--evse", type=whole_number(0), help="2.x: the component's EVSE")
    parser.add_argument("--connector", type=CONNECTOR, help="2.x: the component's connector")
    parser.add_argument("--attribute", choices=[kind.value for kind in AttributeType],
                        default=AttributeType.ACTUAL.value, help="2.x (default Actual)")


def _start(arguments: argparse.Namespace) -> StartCharging:
    return StartCharging(id_token=IdToken(value=arguments.token, type=arguments.token_type),
                         evse_id=arguments.evse,
                         group_id_token=IdToken(value=arguments.group)
                         if arguments.group else None)


def _reserve(arguments: argparse.Namespace) -> ReserveNow:
    ends = arguments.until or utc_now() + (timedelta(minutes=arguments.minutes)
                                           if arguments.minutes else DEFAULT_RESERVATION)
    return ReserveNow(id_token=IdToken(value=arguments.token, type=arguments.token_type),
                      expires_at=ends, evse_id=arguments.evse,
                      group_id_token=IdToken(value=arguments.group) if arguments.group else None)


def name_of(text: str, arguments: argparse.Namespace) -> VariableName:
    """``Key`` (1.6), or ``Component[.instance]/Variable[.instance]`` (2.x)."""
    component, slash, variable = text.rpartition("/")
    if slash and not (component and variable):
        raise ValueError(f"not a variable name: {text!r} (Component/Variable)")
    component_name, _, component_instance = component.partition(".")
    variable_name, _, variable_instance = variable.partition(".") if slash else (variable, "", "")
    return VariableName(variable=variable_name, component=component_name or None,
                        component_instance=component_instance or None,
                        variable_instance=variable_instance or None,
                        evse_id=arguments.evse, connector_id=arguments.connector,
                        attribute=arguments.attribute)


def _setting(text: str, arguments: argparse.Namespace) -> VariableSetting:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise ValueError(f"not NAME=VALUE: {text!r}")
    return VariableSetting(name=name_of(name, arguments), value=value)


def _data(text: str | None) -> object:
    """JSON where it reads as JSON (2.x takes any value), else the text itself."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _perform(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        operation: Operation = arguments.build(arguments)
    except ValueError as error:  # pydantic's ValidationError is one
        print(f"{arguments.prog}: {problem_of(error)}", file=sys.stderr)
        return 2

    async def run(nc) -> int:
        nonlocal operation
        try:  # what only NATS can tell: a URL of the file service
            operation = await locations.resolved(Stores(nc.jetstream()), settings,
                                                 arguments.station_id, operation, sender(),
                                                 utc_now())
        except ValueError as error:
            print(f"{arguments.prog}: {problem_of(error)}", file=sys.stderr)
            return 2
        performed = await perform(nc, arguments.station_id, operation, sender=sender(),
                                  timeout=arguments.timeout, force=arguments.force)
        waits = isinstance(operation, StartCharging) and performed.taken and arguments.wait
        transaction_id = (await transaction_of(nc, performed, arguments.wait)
                          if waits else None)
        _show(performed, arguments.json, transaction_id)
        if performed.outcome is Outcome.REFUSED:
            return 2
        if waits and transaction_id is None:
            print(f"{arguments.station_id}: no transaction began within {arguments.wait} s",
                  file=sys.stderr)
            return 1
        return 0 if performed.taken else 1

    return with_nats(settings, run)


def _show_configuration(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        components, reports = await asyncio.gather(
            stores.components.all(*components_of(arguments.station_id)),
            stores.reports.all(*reports_of(arguments.station_id)))
        if arguments.component:
            wanted = arguments.component.casefold()
            components = [each for each in components
                          if (each.ref.name or "").casefold() == wanted]
        if not components and not reports:
            print(f"chargebus config show: chargebus holds no configuration of "
                  f"{arguments.station_id} (chargebus config fetch asks for it)", file=sys.stderr)
            return 1
        for component in components:
            if arguments.json:
                print_json(component.model_dump(mode="json"))
                continue
            where = _component_label(component.ref)
            for variable in component.variables.values():
                name = variable.name + (f".{variable.instance}" if variable.instance else "")
                for kind, attribute in variable.attributes.items():
                    value = "(write-only)" if attribute.value is None else attribute.value
                    marks = [kind] + ([attribute.mutability] if attribute.mutability else [])
                    if variable.reboot_required:
                        marks.append("reboot required")
                    print(f"{where}{name} = {value} ({', '.join(marks)})")
                for monitor_id, monitor in sorted(variable.monitors.items()):
                    print(f"{where}{name} monitor {monitor_id}: {monitor.kind} {monitor.value:g}"
                          f", severity {monitor.severity}"
                          + (", in transactions" if monitor.transaction else ""))
                if variable.last_event is not None:
                    event = variable.last_event
                    print(f"{where}{name} event {event.event_id} at "
                          f"{event.at.isoformat(timespec='seconds')}: {event.trigger} "
                          f"{event.actual_value}"
                          + (f" (monitor {event.monitor_id})" if event.monitor_id is not None
                             else "") + (" cleared" if event.cleared else ""))
        if not arguments.json:
            for report in sorted(reports, key=lambda each: each.request_id):
                state = ("complete" if report.complete else
                         f"parts missing: {', '.join(map(str, report.missing)) or 'the last'}")
                print(f"report {report.request_id}: {len(report.seq_nos)} parts, {state}")
        return 0

    return with_stores(settings, show)


def _component_label(ref: ComponentRef) -> str:
    if ref.name is None:  # 1.6 keys
        return ""
    label = ref.name + (f".{ref.instance}" if ref.instance else "")
    if ref.evse_id is not None:
        label += f"@{ref.evse_id}" + (f":{ref.connector_id}" if ref.connector_id else "")
    return label + "/"


def _list_reservations(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        for reservation in await reservations.listing(stores, arguments.station_id,
                                                      arguments.all):
            if arguments.json:
                print_json(reservation.model_dump(mode="json"))
                continue
            print(f"{reservation.reservation_id} {reservation.station_id} "
                  f"evse {reservation.evse_id or 'any'} {reservation.id_token} until "
                  f"{reservation.expires_at.isoformat(timespec='seconds')} {reservation.state}"
                  + (f" transaction {reservation.transaction_id}"
                     if reservation.transaction_id else "")
                  + f" by {reservation.made_by}")
        return 0

    return with_stores(settings, show)


def _show(performed: Performed, as_json: bool, transaction_id: str | None) -> None:
    if as_json:
        print_json(performed.as_json() | ({"transaction_id": transaction_id}
                                          if transaction_id else {}))
        return
    if performed.result is None:
        print(f"{performed.station_id}: {performed.outcome.value}: {performed.reason}",
              file=sys.stderr)
        return
    result = performed.result
    line = f"{performed.station_id}: {performed.action} {result.status}"
    if result.reason:
        line += f" ({result.reason})"
    if transaction_id or result.transaction_id:
        line += f", transaction {transaction_id or result.transaction_id}"
    print(line)
    for variable in result.variables:
        value = "" if variable.value is None else f" = {variable.value}"
        flags = " (read-only)" if variable.read_only else ""
        print(f"  {variable.name.label()}{value}: {variable.status}{flags}")
    for monitor in result.monitors:
        made = f" (monitor {monitor.monitor_id})" if monitor.monitor_id is not None else ""
        print(f"  {monitor.name.label()} {monitor.kind}: {monitor.status}{made}")
    if result.data is not None:
        print_json(result.data)
