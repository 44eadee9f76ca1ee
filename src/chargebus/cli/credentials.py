"""`chargebus credentials` and `chargebus setup`: the NATS identities and the topology.

    credentials make --out DIR --edges a,b [--ca] [--data-transfer]
                                                     every seed and nats-server's
                                                     authorization file, for production
    credentials add-edge NODE [--data-dir D]         one more edge for a running
                                                     `chargebus run`, which nats-server
                                                     takes at once
    setup                                            the streams and buckets, as the operator
"""
import argparse
import asyncio
import re
import sys
from pathlib import Path

from chargebus.bus.topology import ensure_topology
from chargebus.cli.common import connect, with_nats
from chargebus.runtime.config import NODE_ID_PATTERN, Settings
from chargebus.runtime.natsserver import PID_FILE, NotRunning, reload_configuration
from chargebus.security import credentials
from chargebus.security.credentials import Identity
from chargebus.security.permissions import Role

# nats-server reads its configuration again a moment after the signal.
RELOAD_WAIT_SECONDS = 10.0


def register(commands) -> None:
    group = commands.add_parser(
        "credentials", help="NATS identities: seeds and nats-server's authorization"
    ).add_subparsers(title="credentials")
    make = group.add_parser("make", help="write every seed and nats-server's authorization "
                                         "file into a folder (existing seeds are kept)")
    make.add_argument("--out", type=Path, required=True, help="the folder (made 0700)")
    make.add_argument("--edges", type=node_ids, required=True,
                      help="the edges' node ids, comma-separated")
    make.add_argument("--ca", action="store_true", help="also an identity for a CA integration")
    make.add_argument("--data-transfer", action="store_true",
                      help="also an identity for an integration that answers DataTransfers")
    make.set_defaults(command=_make)
    add_edge = group.add_parser("add-edge", help="an identity for one more edge of the "
                                                 "running `chargebus run` of --data-dir")
    add_edge.add_argument("node_id", type=node_id)
    add_edge.set_defaults(command=_add_edge)

    setup = commands.add_parser("setup", help="create or update the streams and buckets "
                                              "(the services may not)")
    setup.set_defaults(command=_setup)


def node_id(text: str) -> str:
    if not re.fullmatch(NODE_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(
            f"not a valid node id: {text!r} (a node id must match {NODE_ID_PATTERN})")
    return text


def node_ids(text: str) -> list[str]:
    return [node_id(name.strip()) for name in text.split(",")]


def _make(settings: Settings, arguments: argparse.Namespace) -> int:
    authorization = credentials.make(arguments.out, arguments.edges, ca=arguments.ca,
                                     data_transfer=arguments.data_transfer)
    print(f"{authorization}: include it in nats-server's configuration; give each "
          f"process its own seed in CHARGEBUS_NATS_CREDENTIALS")
    return 0


def _add_edge(settings: Settings, arguments: argparse.Namespace) -> int:
    folder = credentials.folder_of(settings.data_dir)
    if not folder.is_dir():
        print(f"chargebus credentials: no credentials in {folder} (start `chargebus run "
              f"--data-dir {settings.data_dir}` first)", file=sys.stderr)
        return 2
    seed = credentials.ensure(folder, Identity(Role.EDGE, arguments.node_id))
    credentials.write_authorization(folder)
    try:
        reload_configuration(settings.data_dir / PID_FILE)
    except NotRunning as problem:
        print(f"chargebus credentials: {seed} is made; {problem}: it counts from the "
              "next start", file=sys.stderr)
        return 1
    edge = settings.model_copy(update={"nats_credentials": seed})
    if not asyncio.run(_signs_in(edge)):
        print(f"chargebus credentials: nats-server at {settings.nats_url} did not take "
              f"{seed} within {RELOAD_WAIT_SECONDS:.0f} s", file=sys.stderr)
        return 1
    print(seed)
    return 0


async def _signs_in(settings: Settings) -> bool:
    """Whether the identity can sign in, once nats-server has reloaded."""
    deadline = asyncio.get_running_loop().time() + RELOAD_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        try:
            nc = await connect(settings)
        except SystemExit:
            await asyncio.sleep(0.1)
            continue
        await nc.close()
        return True
    return False


def _setup(settings: Settings, arguments: argparse.Namespace) -> int:
    async def create(nc) -> None:
        await ensure_topology(nc.jetstream())
    return with_nats(settings, create)
