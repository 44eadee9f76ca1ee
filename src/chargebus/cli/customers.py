"""`chargebus customers`: what a 2.x station holds of a customer, reported (and kept, a
part at a time, for 30 days) or cleared: the driver's right to see their data and to be
forgotten (CustomerInformation, NotifyCustomerInformation)."""
import argparse
import sys

from chargebus.cli.common import print_json, station_id, token_id, whole_number, with_stores
from chargebus.cli.operations import operation_command
from chargebus.domain.model import IdToken, TokenType
from chargebus.domain.operations import CustomerInformation
from chargebus.runtime.config import Settings
from chargebus.state.stores import Stores, customer_report_key


def register(commands) -> None:
    group = commands.add_parser(
        "customers", help="what 2.x stations hold of a customer: report it, clear it"
    ).add_subparsers(title="customers")
    for name, help_text, report, clear in (
            ("request", "the station reports what it holds of the customer", True, False),
            ("forget", "the station clears what it holds of the customer", False, True)):
        command = operation_command(group, name, help_text)
        named = command.add_mutually_exclusive_group(required=True)
        named.add_argument("--customer", help="the customer's identifier at the station")
        named.add_argument("--token", type=token_id, help="the customer's id token")
        command.add_argument("--token-type", choices=[kind.value for kind in TokenType],
                             default=TokenType.ISO14443.value)
        if report:
            command.add_argument("--clear", action="store_true",
                                 help="and clear it once reported")
        command.set_defaults(build=lambda a, report=report, clear=clear: CustomerInformation(
            report=report, clear=clear or getattr(a, "clear", False), customer=a.customer,
            id_token=IdToken(value=a.token, type=a.token_type) if a.token else None))

    show = group.add_parser("show", help="what a station reported of a customer")
    show.add_argument("station_id", type=station_id)
    show.add_argument("request_id", type=whole_number(0),
                      help="the request's id, which `customers request --json` prints")
    show.add_argument("--json", action="store_true")
    show.set_defaults(command=_show)


def _show(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        report = await stores.customer_reports.get(
            *customer_report_key(arguments.station_id, arguments.request_id))
        if report is None:
            print(f"chargebus customers show: no report {arguments.request_id} of "
                  f"{arguments.station_id} (reports are kept 30 days)", file=sys.stderr)
            return 1
        if arguments.json:
            print_json(report.model_dump(mode="json") | {"complete": report.complete,
                                                         "text": report.text()})
            return 0
        state = "complete" if report.complete else f"{len(report.parts)} parts so far"
        print(f"{arguments.station_id} {arguments.request_id}: "
              f"{report.customer or report.id_token}, {state}")
        print(report.text())
        return 0

    return with_stores(settings, show)
