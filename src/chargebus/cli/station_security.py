"""`chargebus stations password` and `chargebus stations profile`: a station's password
rotated, its security profile raised, each by the calls the OCPP version prescribes."""
import argparse
import sys
from urllib.parse import urlsplit

import orjson

from chargebus.cli.common import seconds, station_id, whole_number, with_stores
from chargebus.ocpp import OcppVersion
from chargebus.operations import profile_upgrade, rotation
from chargebus.operations.commands import DEFAULT_TIMEOUT, CommandReply
from chargebus.runtime.config import Settings
from chargebus.security.passwords import WeakPassword, check_length
from chargebus.state.edges import running_edges
from chargebus.state.stores import Stores

RECONNECT_WAIT_SECONDS = 120.0
INTERFACES = ("Wired0", "Wired1", "Wired2", "Wired3",
              "Wireless0", "Wireless1", "Wireless2", "Wireless3")


def register(stations) -> None:
    password = stations.add_parser(
        "password", help="rotate a connected station's password: the new one is sent to it "
        "(2.x SetVariables BasicAuthPassword, 1.6 ChangeConfiguration AuthorizationKey); both "
        "admit it until it connects with the new one")
    password.add_argument("station_id", type=station_id)
    password.add_argument("--password-stdin", action="store_true",
                          help="read the new password from stdin (default: a random one, "
                               "which is not shown)")
    password.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    password.set_defaults(command=_password)
    profile = stations.add_parser(
        "profile", help="move a connected station to a higher security profile (2.x "
        "SetNetworkProfile, NetworkConfigurationPriority, Reset; 1.6 ChangeConfiguration "
        "SecurityProfile); its record is raised once it connects with it")
    profile.add_argument("station_id", type=station_id)
    profile.add_argument("profile", type=whole_number(0, 3))
    profile.add_argument("--url", help="2.x: the URL it connects to with the new profile, up "
                         "to its id (default: that of a running edge of that profile)")
    profile.add_argument("--slot", type=whole_number(0), default=1,
                         help="2.x: the configuration slot of the new network profile "
                              "(default 1)")
    profile.add_argument("--interface", choices=INTERFACES, default="Wired0",
                         help="2.x: the network interface it connects over (default Wired0)")
    profile.add_argument("--wait", type=seconds, default=RECONNECT_WAIT_SECONDS,
                         help="seconds to wait for it to connect with the new profile "
                              f"(default {RECONNECT_WAIT_SECONDS:.0f})")
    profile.add_argument("--force", action="store_true",
                         help="allow a lower profile than its record says: the record is "
                              "lowered at once (a deliberate step, e.g. for a station whose "
                              "certificate cannot be renewed)")
    profile.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT)
    profile.set_defaults(command=_profile)


def _password(settings: Settings, arguments: argparse.Namespace) -> int:
    command = "chargebus stations password"
    given = sys.stdin.readline().rstrip("\n") if arguments.password_stdin else None
    try:
        if given is not None:
            check_length(given)
    except WeakPassword as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 2

    async def rotate(stores: Stores, nc) -> int:
        presence = await stores.presence.get(arguments.station_id)
        if presence is None or not presence.online:
            print(f"{command}: {arguments.station_id} is not connected; nothing was stored",
                  file=sys.stderr)
            return 1
        new = given or rotation.generated(presence.version)
        try:
            rotation.check_for(presence.version, new)
        except WeakPassword as error:
            print(f"{command}: {error}", file=sys.stderr)
            return 2
        try:
            reply = await rotation.rotate(stores, nc, arguments.station_id, presence.version,
                                          new, arguments.timeout)
        except rotation.NoPassword:
            print(f"{command}: {arguments.station_id} has no password to rotate; set one with "
                  "`chargebus stations add --password-stdin`", file=sys.stderr)
            return 1
        action, _ = rotation.password_call(presence.version, new)
        if not rotation.taken(action, reply):
            print(f"{command}: {arguments.station_id} did not take the new password "
                  f"({_told(reply)}); the old one stays in force", file=sys.stderr)
            return 1
        print(f"station {arguments.station_id}: took its new password; the old one admits it "
              "until it connects with the new one")
        return 0

    return with_stores(settings, rotate)


def _profile(settings: Settings, arguments: argparse.Namespace) -> int:
    command = "chargebus stations profile"
    wanted = arguments.profile
    if arguments.url is not None:
        scheme = urlsplit(arguments.url).scheme
        if scheme != ("wss" if wanted >= 2 else "ws"):
            print(f"{command}: security profile {wanted} connects over "
                  f"{'wss' if wanted >= 2 else 'ws'}, not {arguments.url!r}", file=sys.stderr)
            return 2

    async def upgrade(stores: Stores, nc) -> int:
        admission = await stores.admission.get(arguments.station_id)
        now = admission.security_profile if admission else None
        lowering = now is not None and wanted < now
        if lowering and not arguments.force:
            print(f"{command}: {arguments.station_id}'s record says profile {now}; a station "
                  "never goes down a profile unless told so (--force)", file=sys.stderr)
            return 2
        presence = await stores.presence.get(arguments.station_id)
        if presence is None or not presence.online:
            print(f"{command}: {arguments.station_id} is not connected; nothing was changed",
                  file=sys.stderr)
            return 1
        url = arguments.url
        if presence.version is OcppVersion.V16 and url is not None:
            print(f"{command}: --url is for 2.x stations; a 1.6 station keeps the URL it has "
                  "(the whitepaper has no key for it)", file=sys.stderr)
            return 2
        if presence.version is not OcppVersion.V16 and url is None:
            url = next((edge.url.rstrip("/") for edge in await running_edges(nc)
                        if edge.security_profile == wanted), None)
            if url is None:
                print(f"{command}: no running edge runs security profile {wanted}; give the "
                      "URL with --url", file=sys.stderr)
                return 2
        if lowering:
            await profile_upgrade.set_lowest_profile(stores, arguments.station_id, wanted)
        steps = await profile_upgrade.send_upgrade(
            nc, arguments.station_id, presence.version, wanted, url, arguments.slot,
            arguments.interface, arguments.timeout)
        for step in steps:
            print(f"{step.action}: {_told(step.reply)}")
        if not steps[-1].taken:
            print(f"{command}: {arguments.station_id} did not take {steps[-1].action}; its "
                  f"record stays at {_named(now)}", file=sys.stderr)
            return 1
        if lowering:
            print(f"station {arguments.station_id}: record lowered to profile {wanted}")
            return 0
        if not await profile_upgrade.reconnected_with(nc, stores, arguments.station_id,
                                                      presence, wanted, arguments.wait):
            print(f"{command}: {arguments.station_id} did not connect with profile {wanted} "
                  f"within {arguments.wait:g} s; its record stays at {_named(now)}",
                  file=sys.stderr)
            return 1
        await profile_upgrade.set_lowest_profile(stores, arguments.station_id, wanted)
        print(f"station {arguments.station_id}: connected with profile {wanted}; edges of a "
              "lower profile refuse it from now on")
        return 0

    return with_stores(settings, upgrade)


def _told(reply: CommandReply) -> str:
    body = orjson.dumps(reply.body).decode()
    return body if reply.ok else f"{reply.outcome.value}: {body}"


def _named(profile: int | None) -> str:
    return "no profile" if profile is None else f"profile {profile}"
