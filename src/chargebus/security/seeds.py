"""What a process learns from its own nkey seed file: its public key and its inbox."""
from pathlib import Path

import nkeys

from chargebus.bus import subjects


def public_key(seed_file: Path) -> str:
    key_pair = nkeys.from_seed(bytearray(seed_file.read_bytes().strip()))
    try:
        return key_pair.public_key.decode()
    finally:
        key_pair.wipe()


def inbox_prefix(seed_file: Path) -> str:
    """The inbox of the identity whose seed this is (chargebus.security.permissions)."""
    return subjects.inbox_prefix(public_key(seed_file))
