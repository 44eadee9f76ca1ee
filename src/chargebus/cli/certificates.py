"""`chargebus certificates`: stations' client certificates and the roots they keep."""
import argparse
import sys
from pathlib import Path

import orjson
from cryptography import x509

from chargebus.cli.calls import why_not_sent
from chargebus.cli.common import json_object, print_json, seconds, station_id, with_stores
from chargebus.ocpp.clock import utc_now
from chargebus.ocpp.converters import converter
from chargebus.operations.commands import DEFAULT_TIMEOUT, CommandReply, call_station
from chargebus.operations.locallists import NoVersionKnown, station_version
from chargebus.runtime.config import Settings
from chargebus.security import certificates
from chargebus.security.authority import SigningFailed, authority_of, chain_leaf, facts_of
from chargebus.security.csr import CsrRefused, checked_csr
from chargebus.state.records import IssuedCertificate, StationCertificates
from chargebus.state.stores import Stores

HASH_DATA = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")


def register(commands) -> None:
    group = commands.add_parser("certificates", help="stations' certificates"
                                ).add_subparsers(title="certificates")
    show = group.add_parser("show", help="what chargebus knows of a station's client "
                            "certificate: issued, accepted, presented, renewal asked")
    show.add_argument("station_id", type=station_id)
    show.set_defaults(command=_show)

    issue = group.add_parser("issue", help="sign a station's CSR (PEM) with chargebus's CA "
                             "and print the chain, for its first certificate")
    issue.add_argument("station_id", type=station_id)
    issue.add_argument("--csr", type=Path, required=True, help="the CSR file (PEM)")
    issue.set_defaults(command=_issue)

    install = group.add_parser("install", help="install a root certificate on a station "
                               "(InstallCertificate)")
    install.add_argument("station_id", type=station_id)
    install.add_argument("--type", required=True, help="1.6: CentralSystemRootCertificate, "
                         "ManufacturerRootCertificate; 2.x: CSMSRootCertificate, "
                         "ManufacturerRootCertificate, V2GRootCertificate, MORootCertificate")
    install.add_argument("--file", type=Path, required=True, help="the certificate (PEM)")
    install.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    install.set_defaults(command=_install)

    listing = group.add_parser("list", help="the certificates a station keeps, one JSON "
                               "object a line (GetInstalledCertificateIds)")
    listing.add_argument("station_id", type=station_id)
    listing.add_argument("--type", action="append", default=[], dest="types",
                         help="only this type (repeat for more; default all)")
    listing.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    listing.set_defaults(command=_list)

    delete = group.add_parser("delete", help="delete a certificate from a station "
                              "(DeleteCertificate), named by its hash data or by a line "
                              "of `certificates list`")
    delete.add_argument("station_id", type=station_id)
    delete.add_argument("--id", type=json_object, dest="listed",
                        help="a line of `chargebus certificates list`")
    delete.add_argument("--hash-algorithm", choices=["SHA256", "SHA384", "SHA512"])
    delete.add_argument("--issuer-name-hash")
    delete.add_argument("--issuer-key-hash")
    delete.add_argument("--serial", help="the serial number, hexadecimal")
    delete.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    delete.set_defaults(command=_delete)

    renew = group.add_parser("renew", help="ask a station for a new CSR now (TriggerMessage "
                             "/ ExtendedTriggerMessage SignChargingStationCertificate)")
    renew.add_argument("station_id", type=station_id)
    renew.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    renew.set_defaults(command=_renew)


def _failed(command: str, reply: CommandReply) -> int:
    print(f"chargebus certificates {command}: {reply.outcome.value} "
          f"{orjson.dumps(reply.body).decode()}", file=sys.stderr)
    return 1


def _status_exit(command: str, reply: CommandReply) -> int:
    """Exit 0 where the station answered Accepted; its answer printed either way."""
    if not reply.ok:
        return _failed(command, reply)
    print_json(reply.body)
    return 0 if reply.body.get("status") == "Accepted" else 1


def _show(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        record = await stores.certificates.get(arguments.station_id)
        presence = await stores.presence.get(arguments.station_id)
        presented = presence.certificate if presence else None
        if record is None and presented is None:
            print(f"chargebus certificates show: nothing known of {arguments.station_id}'s "
                  "certificate", file=sys.stderr)
            return 1
        shown = (record or StationCertificates(station_id=arguments.station_id)
                 ).model_dump(mode="json")
        shown["presented"] = presented.model_dump(mode="json") if presented else None
        print_json(shown)
        return 0

    return with_stores(settings, show)


def _issue(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        pem = arguments.csr.read_text()
        csr = checked_csr(pem, arguments.station_id, settings.certificate_organization)
    except (OSError, UnicodeDecodeError) as error:
        print(f"chargebus certificates issue: cannot read {arguments.csr}: {error}",
              file=sys.stderr)
        return 2
    except CsrRefused as refusal:
        print(f"chargebus certificates issue: CSR refused: {refusal}", file=sys.stderr)
        return 2
    if (settings.ca_mode == "internal" and settings.ca_certificate is None
            and not settings.ca_folder.exists()):
        print(f"chargebus certificates issue: no CA in {settings.ca_folder} (give the "
              "--data-dir of chargebus run, which makes it)", file=sys.stderr)
        return 1

    async def issue(stores: Stores, nc) -> int:
        try:
            chain = await authority_of(settings, nc).sign(
                csr, arguments.station_id, "ChargingStationCertificate")
        except SigningFailed as failure:
            print(f"chargebus certificates issue: {failure}", file=sys.stderr)
            return 1
        facts = facts_of(chain_leaf(chain))
        issued = IssuedCertificate(**facts.model_dump(), issued_at=utc_now(),
                                   answer="provisioned")
        await stores.certificates.modify(
            lambda current: (current or StationCertificates(station_id=arguments.station_id))
            .model_copy(update={"issued": issued, "current": facts}), arguments.station_id)
        sys.stdout.write(chain)
        return 0

    return with_stores(settings, issue)


async def _version_or_exit(stores: Stores, station: str, command: str):
    try:
        return await station_version(stores, station)
    except NoVersionKnown as error:
        print(f"chargebus certificates {command}: {error}", file=sys.stderr)
        return None


def _install(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        pem = arguments.file.read_text()
        x509.load_pem_x509_certificate(pem.encode())
    except (OSError, UnicodeDecodeError) as error:
        print(f"chargebus certificates install: cannot read {arguments.file}: {error}",
              file=sys.stderr)
        return 2
    except ValueError:
        print(f"chargebus certificates install: {arguments.file} is not a PEM certificate",
              file=sys.stderr)
        return 2
    return _send(settings, arguments, "install", "InstallCertificate",
                 {"certificateType": arguments.type, "certificate": pem})


def _send(settings: Settings, arguments: argparse.Namespace, command: str, action: str,
          payload: dict) -> int:
    """One call that the station's version takes; exit 0 where it answers Accepted."""
    async def send(stores: Stores, nc) -> int:
        version = await _version_or_exit(stores, arguments.station_id, command)
        if version is None:
            return 1
        refusal = why_not_sent(action, payload, version)
        if refusal:
            print(f"chargebus certificates {command}: {refusal}", file=sys.stderr)
            return 2
        reply = await call_station(nc, arguments.station_id, action, payload, arguments.timeout)
        return _status_exit(command, reply)

    return with_stores(settings, send)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores, nc) -> int:
        version = await _version_or_exit(stores, arguments.station_id, "list")
        if version is None:
            return 1
        for _, payload in converter(version).installed_ids_requests(arguments.types):
            refusal = why_not_sent("GetInstalledCertificateIds", payload, version)
            if refusal:
                print(f"chargebus certificates list: {refusal}", file=sys.stderr)
                return 2
        listed, failure = await certificates.installed(nc, arguments.station_id, version,
                                                       arguments.types, arguments.timeout)
        for entry in listed:
            print_json(entry)
        return _failed("list", failure) if failure is not None else 0

    return with_stores(settings, listing)


def _delete(settings: Settings, arguments: argparse.Namespace) -> int:
    options = [arguments.hash_algorithm, arguments.issuer_name_hash, arguments.issuer_key_hash,
               arguments.serial]
    if arguments.listed is not None:
        if any(option is not None for option in options):
            print("chargebus certificates delete: --id or the hash options, not both",
                  file=sys.stderr)
            return 2
        hash_data = {name: arguments.listed.get(name) for name in HASH_DATA}
    elif all(option is not None for option in options):
        hash_data = dict(zip(HASH_DATA, options))
    else:
        print("chargebus certificates delete: give --id, or --hash-algorithm, "
              "--issuer-name-hash, --issuer-key-hash and --serial", file=sys.stderr)
        return 2
    return _send(settings, arguments, "delete", "DeleteCertificate",
                 {"certificateHashData": hash_data})


def _renew(settings: Settings, arguments: argparse.Namespace) -> int:
    async def renew(stores: Stores, nc) -> int:
        version = await _version_or_exit(stores, arguments.station_id, "renew")
        if version is None:
            return 1
        reply = await certificates.request_renewal(nc, stores, arguments.station_id, version,
                                                   arguments.timeout)
        return _status_exit("renew", reply)

    return with_stores(settings, renew)
