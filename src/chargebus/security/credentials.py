"""The NATS identities of chargebus: one nkey seed file per identity, and the
authorization file that tells nats-server their public keys and permissions.

A folder of credentials (``<data_dir>/credentials`` in the embedded system, any folder
mounted as secrets in production) holds, readable by its owner only (folder 0700,
files 0600):

    operator.nk workers.nk sink.nk [ca.nk]   one seed each
    edges/<node id>.nk                       one seed per edge node id
    nats-auth.conf                           the public keys and permissions, for nats-server

A seed never leaves its file: nats-py signs the server's challenge with it, and
nats-server's file holds only public keys. nkeys rather than JWT accounts: chargebus
runs in one account, and a static user list that nats-server reloads on SIGHUP is all
that adding an edge needs.
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nkeys

from chargebus.security.permissions import Permissions, Role, permissions
from chargebus.security.seeds import public_key

FOLDER = "credentials"
EDGES_FOLDER = "edges"
SEED_SUFFIX = ".nk"
AUTHORIZATION_FILE = "nats-auth.conf"
SERVICE_ROLES = (Role.OPERATOR, Role.WORKERS, Role.SINK, Role.FILES, Role.API)
_SEED_BYTES = 32


@dataclass(frozen=True)
class Identity:
    role: Role
    node_id: str | None = None  # an edge's

    def seed_file(self, folder: Path) -> Path:
        if self.role is Role.EDGE:
            return folder / EDGES_FOLDER / f"{self.node_id}{SEED_SUFFIX}"
        return folder / f"{self.role.value}{SEED_SUFFIX}"


def folder_of(data_dir: Path) -> Path:
    return data_dir / FOLDER


def operator_seed(data_dir: Path) -> Path:
    """Where `chargebus run` keeps the operator's seed."""
    return Identity(Role.OPERATOR).seed_file(folder_of(data_dir))


def ensure(folder: Path, identity: Identity) -> Path:
    """The identity's seed file, made if it is not there yet."""
    path = identity.seed_file(folder)
    _private_folder(path.parent)
    if path.parent != folder:
        _private_folder(folder)
    if not path.exists():
        seed = nkeys.encode_seed(os.urandom(_SEED_BYTES), nkeys.PREFIX_BYTE_USER)
        _write_new(path, seed + b"\n")
    return path


def identities(folder: Path) -> list[Identity]:
    """Every identity that has a seed in the folder."""
    found = [Identity(role) for role in (*SERVICE_ROLES, Role.CA, Role.DATA_TRANSFER)
             if Identity(role).seed_file(folder).exists()]
    edges = folder / EDGES_FOLDER
    if edges.is_dir():
        found += [Identity(Role.EDGE, path.name[:-len(SEED_SUFFIX)])
                  for path in sorted(edges.glob(f"*{SEED_SUFFIX}"))]
    return found


def write_authorization(folder: Path) -> Path:
    """nats-server's authorization block for every identity in the folder, replaced in
    one rename so that a reloading server never reads half of it."""
    users = []
    for identity in identities(folder):
        key = public_key(identity.seed_file(folder))
        users.append(_user(key, permissions(identity.role, key, identity.node_id)))
    text = "# Written by chargebus (chargebus.security.credentials); public keys only.\n"
    text += "authorization {\n  users = [\n" + ",\n".join(users) + "\n  ]\n}\n"
    path = folder / AUTHORIZATION_FILE
    staged = path.with_name(f"{path.name}.{os.getpid()}")
    staged.unlink(missing_ok=True)  # left by a process of this pid that died writing it
    _write_new(staged, text.encode())
    staged.replace(path)
    return path


def make(folder: Path, edges: list[str], ca: bool = False, data_transfer: bool = False
         ) -> Path:
    """The seeds of the services, of these edges (and of a CA integration, of a
    DataTransfer integration), kept where they exist already, and the authorization
    file for all in the folder."""
    for role in SERVICE_ROLES:
        ensure(folder, Identity(role))
    for node_id in edges:
        ensure(folder, Identity(Role.EDGE, node_id))
    if ca:
        ensure(folder, Identity(Role.CA))
    if data_transfer:
        ensure(folder, Identity(Role.DATA_TRANSFER))
    return write_authorization(folder)


def _user(key: str, granted: Permissions) -> str:
    rules: dict[str, dict[str, list[str] | int]] = {}
    if granted.publish:
        rules["publish"] = {"allow": list(granted.publish)}
    rules["subscribe"] = {"allow": list(granted.subscribe)}
    if granted.responses is not None:
        rules["allow_responses"] = {"max": granted.responses}
    # JSON is a form nats-server's configuration reads; quoted, "$JS..." is no variable.
    return "    " + json.dumps({"nkey": key, "permissions": rules})


def _private_folder(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # whatever the umask, or an older folder, made it


def _write_new(path: Path, data: bytes) -> None:
    """A new file, readable by its owner only from its first byte on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
