"""`chargebus stations`: how stations may connect and are received, and what is known of them."""
import argparse
import sys

from chargebus.cli import station_security
from chargebus.cli.common import print_json, station_id, version, versions, with_stores
from chargebus.domain.model import RegistrationStatus
from chargebus.manage import stations
from chargebus.runtime.config import Settings
from chargebus.security.passwords import WeakPassword, hash_password
from chargebus.state.edges import running_edges
from chargebus.state.fleet import ConnectorView, fleet, matches
from chargebus.state.records import StationAccess, StationAdmission
from chargebus.state.stores import Stores


def register(commands) -> None:
    group = commands.add_parser("stations", help="manage stations").add_subparsers(
        title="stations")
    admit = group.add_parser("add", help="add a station, or change how it may connect and "
                                "how its boots are answered (options not given stay as they are)")
    admit.add_argument("station_id", type=station_id)
    admit.add_argument("--password-stdin", action="store_true",
                       help="read its HTTP Basic password (16 to 40 characters) from stdin")
    admit.add_argument("--versions", type=versions,
                       help="the OCPP versions it may use, e.g. ocpp2.0.1,ocpp1.6 (default: any)")
    admit.add_argument("--boot", choices=[status.value for status in RegistrationStatus],
                       help="the answer to its BootNotification (default Accepted)")
    admit.add_argument("--heartbeat", type=int, help="its heartbeat interval in seconds")
    admit.add_argument("--site", help="the site it stands at (analytics by site)")
    admit.set_defaults(command=_add)
    remove = group.add_parser("remove", help="remove a station's access record")
    remove.add_argument("station_id", type=station_id)
    remove.set_defaults(command=_remove)
    listing = group.add_parser(
        "list", help="every station seen or admitted: model, firmware, version, online, "
                     "edge, last seen, connectors")
    online = listing.add_mutually_exclusive_group()
    online.add_argument("--online", action="store_const", const=True, dest="online")
    online.add_argument("--offline", action="store_const", const=False, dest="online")
    listing.add_argument("--status", help="with a connector in this status, e.g. Faulted")
    listing.add_argument("--version", type=version,
                         help="speaking this OCPP version, e.g. ocpp1.6")
    listing.add_argument("--json", action="store_true", help="each station as a JSON line")
    listing.set_defaults(command=_list)
    admitted = group.add_parser("admitted", help="the stations' access records (JSON lines)")
    admitted.set_defaults(command=_admitted)
    show = group.add_parser("show", help="what is known of a station: boot, connector "
                               "statuses, online state")
    show.add_argument("station_id", type=station_id)
    show.set_defaults(command=_show)
    station_security.register(group)


def _add(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        password_hash = (hash_password(sys.stdin.readline().rstrip("\n"))
                         if arguments.password_stdin else None)
    except WeakPassword as error:
        print(f"chargebus stations add: {error}", file=sys.stderr)
        return 2
    if arguments.heartbeat is not None and arguments.heartbeat <= 0:
        print("chargebus stations add: the heartbeat interval is a number of seconds above 0",
              file=sys.stderr)
        return 2
    given = {"versions": arguments.versions, "boot_status": arguments.boot,
             "heartbeat_interval": arguments.heartbeat, "site": arguments.site}
    update = {name: value for name, value in given.items() if value is not None}

    def change(current: StationAdmission | None) -> StationAdmission:
        base = current or StationAdmission(station_id=arguments.station_id)
        if password_hash is not None:  # the edges forget the passwords they saw right
            update["password_generation"] = base.password_generation + 1
        return StationAdmission.model_validate(base.model_dump() | update)

    async def add(stores: Stores, nc) -> None:
        # The secret first: an edge admits by the admission record, which must never
        # name a station whose password is not stored yet.
        if password_hash is not None:
            await stores.access.put(StationAccess(station_id=arguments.station_id,
                                                  password_hash=password_hash),
                                    arguments.station_id)
        admission = await stores.admission.modify(change, arguments.station_id)
        assert admission is not None  # change() always gives one
        secret = await stores.access.get(arguments.station_id)
        how = "with a password" if secret and secret.password_hash else "without a password"
        spoken = (", ".join(v.value for v in admission.versions) if admission.versions
                  else "any version")
        print(f"station {admission.station_id}: may connect {how}, {spoken}; boots answered "
              f"{(admission.boot_status or RegistrationStatus.ACCEPTED).value}")
        if password_hash is not None:
            for edge in await running_edges(nc):
                if not edge.checks_passwords:
                    print(f"chargebus stations add: note: edge {edge.node_id} runs security "
                          f"profile {edge.security_profile} and does not check passwords "
                          "(profiles 1 and 2 do: CHARGEBUS_EDGE_SECURITY_PROFILE)",
                          file=sys.stderr)

    return with_stores(settings, add)


def _remove(settings: Settings, arguments: argparse.Namespace) -> int:
    async def remove(stores: Stores, nc) -> int:
        admission = await stores.admission.get(arguments.station_id)
        if admission is None and await stores.access.get(arguments.station_id) is None:
            print(f"chargebus stations remove: {arguments.station_id} has no access record",
                  file=sys.stderr)
            return 1
        # The admission first: no edge admits the station once the secret is gone.
        await stores.admission.delete(arguments.station_id)
        await stores.access.delete(arguments.station_id)
        print(f"station {arguments.station_id}: access record removed")
        return 0

    return with_stores(settings, remove)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores, nc) -> None:
        for view in await fleet(stores):
            if not matches(view, arguments.online, arguments.status, arguments.version):
                continue
            if arguments.json:
                print_json(view.model_dump(mode="json"))
                continue
            seen = "online" if view.online else (
                f"offline since {view.last_seen.isoformat(timespec='seconds')}"
                if view.last_seen else "never connected")
            if view.edge_id:
                seen += f" on {view.edge_id}"
            if view.last_message_at:
                seen += f", heard {view.last_message_at.isoformat(timespec='seconds')}"
            connectors = " ".join(_connector(connector) for connector in view.connectors)
            print(f"{view.station_id} {view.version.value if view.version else '-'} "
                  f"{view.vendor or '-'}/{view.model or '-'} fw {view.firmware_version or '-'} "
                  f"{seen}"
                  f"{f' {connectors}' if connectors else ''}")

    return with_stores(settings, listing)


def _connector(connector: ConnectorView) -> str:
    where = str(connector.evse_id)
    if connector.connector_id:
        where += f"/{connector.connector_id}"
    return f"{where}:{connector.status}"


def _admitted(settings: Settings, arguments: argparse.Namespace) -> int:
    async def listing(stores: Stores, nc) -> None:
        secrets = {access.station_id: access for access in await stores.access.all()}
        for admission in await stores.admission.all():
            secret = secrets.get(admission.station_id)
            print_json(admission.model_dump(mode="json") | {
                "password": bool(secret and secret.password_hash),
                "password_pending": bool(secret and secret.pending_hash)})

    return with_stores(settings, listing)


def _show(settings: Settings, arguments: argparse.Namespace) -> int:
    """One JSON object: chargebus.manage.stations.detail, and last seen: "now" while
    online, else when it disconnected."""
    async def show(stores: Stores, nc) -> int:
        found = await stations.detail(stores, arguments.station_id)
        if found is None:
            print(f"chargebus stations show: nothing is known of {arguments.station_id}",
                  file=sys.stderr)
            return 1
        shown = found.model_dump(mode="json")
        shown["last_seen"] = "now" if found.online else shown["disconnected_at"]
        print_json(shown)
        return 0

    return with_stores(settings, show)
