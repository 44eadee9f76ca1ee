"""Where the file service keeps files: a folder under the data folder, one file per key.

A file being received is written beside the others under a temporary name and takes its
key only once it is whole, so a reader never sees half an upload, and one cut short
leaves nothing behind.
"""
import hashlib
import os
import secrets
from pathlib import Path

PARTIAL = ".partial"


class TooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"the file is larger than the {limit} bytes this URL takes")
        self.limit = limit


class Receiving:
    """One file on its way in: its bytes counted and hashed as they come."""

    def __init__(self, final: Path, partial: Path, limit: int):
        self._final = final
        self._partial = partial
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        self._file = open(partial, "wb")  # noqa: SIM115: closed by finish or abort

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise TooLarge(self._limit)
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> str:
        """Gives the file its key; its SHA-256."""
        self._file.close()
        self._final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._partial, self._final)
        return self._hash.hexdigest()

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root.resolve()
        (self.root / PARTIAL).mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file of ``key``; ValueError for a key that would leave the folder."""
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root or PARTIAL in path.parts:
            raise ValueError(f"not a key of this storage: {key!r}")
        return path

    def receive(self, key: str, limit: int) -> Receiving:
        final = self.path(key)
        partial = self.root / PARTIAL / secrets.token_hex(8)
        return Receiving(final, partial, limit)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()
