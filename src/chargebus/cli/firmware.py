"""`chargebus firmware`: update a station's firmware (1.6 UpdateFirmware, its security
extension's SignedUpdateFirmware, 2.x UpdateFirmware) and follow each update's progress
from the station's status notifications to the version it boots with."""
import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from chargebus.cli.common import print_json, station_id, timestamp, whole_number, with_stores
from chargebus.cli.operations import operation_command
from chargebus.domain import firmware
from chargebus.domain.operations import UpdateFirmware
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings
from chargebus.state.records import FirmwareUpdate, StationFirmware
from chargebus.state.stores import Stores

# Where stations fetch firmware from.
SCHEMES = ("http", "https", "ftp", "ftps")


def register(commands) -> None:
    group = commands.add_parser(
        "firmware", help="update stations' firmware and follow the updates"
    ).add_subparsers(title="firmware")
    update = operation_command(group, "update", "update a station's firmware")
    update.add_argument("--url", type=firmware_url, required=True,
                        help="where the station downloads the firmware (http, https, ftp)")
    update.add_argument("--retrieve-at", type=timestamp,
                        help="RFC 3339: not before this (default now)")
    update.add_argument("--install-at", type=timestamp,
                        help="RFC 3339: install at this time (2.x, signed 1.6)")
    update.add_argument("--retries", type=whole_number(0))
    update.add_argument("--retry-interval", type=whole_number(0), help="seconds")
    update.add_argument("--signature", help="the firmware's signature, base64")
    update.add_argument("--signing-certificate", type=Path,
                        help="PEM file of the certificate that signed it")
    update.set_defaults(build=_update)

    status = group.add_parser("status", help="the stations' firmware updates")
    status.add_argument("station_id", type=station_id, nargs="?",
                        help="one station's (default: every station's latest)")
    status.add_argument("--json", action="store_true", help="each update as a JSON line")
    status.set_defaults(command=_status)


def firmware_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"a firmware is fetched from an {', '.join(SCHEMES)} URL with a host, not "
            f"{text!r}")
    return text


def _update(arguments: argparse.Namespace) -> UpdateFirmware:
    certificate = None
    if arguments.signing_certificate is not None:
        try:
            certificate = arguments.signing_certificate.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read {arguments.signing_certificate}: {error}") from None
    return UpdateFirmware(location=arguments.url,
                          retrieve_at=arguments.retrieve_at or utc_now(),
                          install_at=arguments.install_at, retries=arguments.retries,
                          retry_interval=arguments.retry_interval,
                          signature=arguments.signature, signing_certificate=certificate)


def _status(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        if arguments.station_id:
            record = await stores.firmware.get(arguments.station_id)
            shown = [(arguments.station_id, update)
                     for update in (record.updates if record else [])]
            if not shown:
                print(f"chargebus firmware status: no firmware update of "
                      f"{arguments.station_id}", file=sys.stderr)
                return 1
        else:
            records: list[StationFirmware] = await stores.firmware.all()
            shown = [(record.station_id, record.updates[-1]) for record in records
                     if record.updates]
        for station, update in sorted(shown, key=lambda each: each[1].requested_at):
            if arguments.json:
                print_json(update.model_dump(mode="json") | {
                    "station_id": station, "state": firmware.state(update),
                    "outcome": firmware.outcome(update)})
                continue
            print(_line(station, update))
        return 0

    return with_stores(settings, show)


def _line(station: str, update: FirmwareUpdate) -> str:
    last = update.statuses[-1] if update.statuses else None
    seen = (f"{last.status} at {last.at.isoformat(timespec='seconds')}" if last
            else f"answered {update.answer}" if update.answer else "not answered yet")
    versions = f"{update.firmware_before or '?'}"
    if update.firmware_after:
        versions += f" -> {update.firmware_after}"
    return (f"{station} {update.request_id}: {firmware.state(update)}"
            + (f" ({firmware.outcome(update)})" if firmware.outcome(update) else "")
            + f", {seen}; firmware {versions}; {update.location} by {update.sender}")
