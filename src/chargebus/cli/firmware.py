"""`chargebus firmware`: update a station's firmware (1.6 UpdateFirmware, its security
extension's SignedUpdateFirmware, 2.x UpdateFirmware) and follow each update's progress
from the station's status notifications to the version it boots with."""
import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from chargebus.cli.common import (print_json, problem_of, sender, station_id, timestamp,
                                  whole_number, with_stores)
from chargebus.cli.operations import operation_command
from chargebus.domain import firmware, rollouts
from chargebus.domain.operations import UpdateFirmware
from chargebus.files import grants
from chargebus.manage import rollouts as manage_rollouts
from chargebus.manage.rollouts import DEFAULT_AT_MOST, DEFAULT_PAUSE_SHARE
from chargebus.operations.locations import of_file_service
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
    source = update.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", type=firmware_url,
                        help="where the station downloads the firmware (http, https, ftp)")
    source.add_argument("--image", type=image_name,
                        help="a firmware image chargebus holds (chargebus files publish): "
                             "the station gets a URL of its own")
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
    status.add_argument("--rollout", help="the stations of this roll-out, and its state")
    status.add_argument("--json", action="store_true", help="each update as a JSON line")
    status.set_defaults(command=_status)

    rollout = group.add_parser(
        "rollout", help="update a group of stations, a few at a time"
    ).add_subparsers(title="rollout")
    create = rollout.add_parser("create", help="start a roll-out")
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", type=firmware_url)
    source.add_argument("--image", type=image_name,
                        help="a firmware image chargebus holds: a URL of its own per station")
    chosen = create.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--model", help="every station of this model")
    chosen.add_argument("--from-firmware", help="every station on this firmware version")
    chosen.add_argument("--stations", type=_station_list, help="these stations, A,B,C")
    create.add_argument("--at-most", type=whole_number(1), default=DEFAULT_AT_MOST,
                        help=f"stations updating at once (default {DEFAULT_AT_MOST})")
    create.add_argument("--pause-share", type=_share, default=DEFAULT_PAUSE_SHARE,
                        help="pause once more than this share of the stations sent to "
                             f"failed, 0 to 1 (default {DEFAULT_PAUSE_SHARE})")
    create.add_argument("--retries", type=whole_number(0))
    create.add_argument("--retry-interval", type=whole_number(0), help="seconds")
    create.add_argument("--signature", help="the firmware's signature, base64")
    create.add_argument("--signing-certificate", type=Path)
    create.set_defaults(command=_create_rollout)
    for name, help_text in (("pause", "send no more updates"),
                            ("resume", "go on from a pause, the failures so far accepted"),
                            ("cancel", "send no more updates, for good")):
        each = rollout.add_parser(name, help=help_text)
        each.add_argument("rollout_id")
        each.set_defaults(command=_change_rollout, change=name)


def _station_list(text: str) -> list[str]:
    return [station_id(part.strip()) for part in text.split(",") if part.strip()]


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share from 0 to 1, not {text!r}")
    return value


def firmware_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"a firmware is fetched from an {', '.join(SCHEMES)} URL with a host, not "
            f"{text!r}")
    return text


def image_name(text: str) -> str:
    try:
        return grants.check_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _update(arguments: argparse.Namespace) -> UpdateFirmware:
    certificate = None
    if arguments.signing_certificate is not None:
        try:
            certificate = arguments.signing_certificate.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read {arguments.signing_certificate}: {error}") from None
    return UpdateFirmware(location=arguments.url or of_file_service(arguments.image or ""),
                          retrieve_at=arguments.retrieve_at or utc_now(),
                          install_at=arguments.install_at, retries=arguments.retries,
                          retry_interval=arguments.retry_interval,
                          signature=arguments.signature, signing_certificate=certificate)


def _create_rollout(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        signed = _update(argparse.Namespace(**vars(arguments) | {
            "retrieve_at": None, "install_at": None}))
        request = manage_rollouts.RolloutRequest(
            url=arguments.url, image=arguments.image, model=arguments.model,
            from_firmware=arguments.from_firmware, stations=arguments.stations,
            at_most=arguments.at_most, pause_share=arguments.pause_share,
            retries=signed.retries, retry_interval=signed.retry_interval,
            signature=signed.signature, signing_certificate=signed.signing_certificate)
    except ValueError as error:
        print(f"chargebus firmware rollout create: {problem_of(error)}", file=sys.stderr)
        return 2

    async def create(stores: Stores, nc) -> int:
        try:
            record = await manage_rollouts.create(stores, nc, request, sender(), utc_now())
        except manage_rollouts.NothingChosen as nothing:
            print(f"chargebus firmware rollout create: {nothing}", file=sys.stderr)
            return 1
        except ValueError as error:
            print(f"chargebus firmware rollout create: {error}", file=sys.stderr)
            return 2
        print(f"{record.rollout_id}: {len(record.stations)} stations, at most "
              f"{record.at_most} at once")
        return 0

    return with_stores(settings, create)


def _change_rollout(settings: Settings, arguments: argparse.Namespace) -> int:
    async def change(stores: Stores, nc) -> int:
        changed = await manage_rollouts.change(stores, nc, arguments.rollout_id,
                                               arguments.change, sender())
        if changed is None:
            print(f"chargebus firmware rollout {arguments.change}: no roll-out "
                  f"{arguments.rollout_id}", file=sys.stderr)
            return 1
        before, after = changed
        if after.state is before.state:
            print(f"chargebus firmware rollout {arguments.change}: {arguments.rollout_id} "
                  f"is {after.state.value}", file=sys.stderr)
            return 1
        print(f"{arguments.rollout_id}: {after.state.value}")
        return 0

    return with_stores(settings, change)


def _status(settings: Settings, arguments: argparse.Namespace) -> int:
    if arguments.rollout:
        return _rollout_status(settings, arguments)

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


def _rollout_status(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        record = await stores.rollouts.get(arguments.rollout)
        if record is None:
            print(f"chargebus firmware status: no roll-out {arguments.rollout}",
                  file=sys.stderr)
            return 1
        if arguments.json:
            print_json(record.model_dump(mode="json", exclude={"signing_certificate"}))
            return 0
        tally = rollouts.counts(record)
        print(f"{record.rollout_id}: {record.state.value}; "
              + ", ".join(f"{count} {state.value}" for state, count in tally.items())
              + f"; at most {record.at_most} at once, pauses past "
              f"{record.pause_share:.0%} failed; {record.location}")
        for station in record.stations:
            print(f"  {station.station_id}: {station.state.value}"
                  + (f" ({station.outcome})" if station.outcome else ""))
        return 0

    return with_stores(settings, show)
