"""The file service over FTP, for the many 1.6 stations that upload diagnostics no other
way: pyftpdlib on a thread of its own, its logins checked against the grants.

The user name is the grant's id and the password its secret (ftp://<grant>:<secret>@...);
a login opens the grant's folder and nothing else, for storing files only, each at most
the grant's size. The thread asks the service's event loop for the grant and to record a
file once it is whole.
"""
import asyncio
import hashlib
import logging
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pyftpdlib.authorizers import AuthenticationFailed
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.servers import FTPServer

from chargebus.files import grants
from chargebus.services.files.desk import FileDesk, Refused
from chargebus.state.records import FileGrant

log = logging.getLogger(__name__)

# What a login may do: change into its folder (e), list it (l), store files (w).
PERMISSIONS = "elw"
# How long the FTP thread waits for the event loop's answer (a KV read, a KV write).
ANSWER_SECONDS = 10.0
_POLL_SECONDS = 0.5
T = TypeVar("T")


class _GrantAuthorizer:
    """pyftpdlib's authorizer interface, over the grants in KV."""

    def __init__(self, service: "FtpUploads"):
        self._service = service
        self._homes: dict[str, Path] = {}
        self._lock = threading.Lock()

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        try:
            grant = self._service.wait(self._service.desk.open(username, password, "upload"))
        except Refused as refused:
            raise AuthenticationFailed(str(refused)) from None
        if grant.name is not None:  # an operator's image goes by HTTP, to its own URL
            raise AuthenticationFailed("this URL takes its file over HTTP only")
        home = self._service.desk.storage.path(grant.key)
        home.mkdir(parents=True, exist_ok=True)
        handler.grant = grant
        with self._lock:
            self._homes[username] = home

    def get_home_dir(self, username: str) -> str:
        with self._lock:
            return str(self._homes[username])

    def has_user(self, username: str) -> bool:
        with self._lock:
            return username in self._homes

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        if perm not in PERMISSIONS:
            return False
        if path is None:
            return True
        home = Path(self.get_home_dir(username))
        target = Path(path)
        if target == home:
            return perm in "el"
        return target.parent == home and grants.NAME.fullmatch(target.name) is not None

    def get_perms(self, username: str) -> str:
        return PERMISSIONS

    def get_msg_login(self, username: str) -> str:
        return "chargebus: store the file here."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    # The service runs as one system user for every login: nothing to switch.
    def impersonate_user(self, username: str, password: str) -> None:
        pass

    def terminate_impersonation(self, username: str) -> None:
        pass


class _LimitedDTPHandler(DTPHandler):
    """Stops a transfer once it passes its grant's size."""

    def handle_read(self) -> None:
        super().handle_read()
        grant: FileGrant | None = getattr(self.cmd_channel, "grant", None)
        if grant is not None and self.tot_bytes_received > grant.max_bytes and not self._closed:
            self._resp = (f"552 Exceeded storage allocation: this URL takes at most "
                          f"{grant.max_bytes} bytes.", log.info)
            self.transfer_finished = False
            self.close()

    handle_read_event = handle_read


class _UploadHandler(FTPHandler):
    dtp_handler = _LimitedDTPHandler
    grant: FileGrant | None = None
    service: "FtpUploads"

    def on_file_received(self, file: str) -> None:
        path = Path(file)
        grant = self.grant
        assert grant is not None  # a store needs a login
        digest = hashlib.sha256()
        with path.open("rb") as stored:
            while chunk := stored.read(1 << 16):
                digest.update(chunk)
        key = self.service.desk.upload_key(grant, path.name)
        try:
            self.service.wait(self.service.desk.stored(
                grant, key, path.name, path.stat().st_size, digest.hexdigest(), "ftp"))
        except Exception:
            log.exception("%s: %s was stored but could not be recorded", grant.grant_id,
                          path.name)

    def on_incomplete_file_received(self, file: str) -> None:
        Path(file).unlink(missing_ok=True)


class FtpUploads:
    def __init__(self, desk: FileDesk, host: str, port: int, passive_ports: range | None,
                 masquerade: str | None):
        self.desk = desk
        self._loop = asyncio.get_running_loop()
        handler = type("Handler", (_UploadHandler,), {
            "service": self, "authorizer": _GrantAuthorizer(self),
            "passive_ports": passive_ports, "masquerade_address": masquerade,
            "banner": "chargebus file service", "max_login_attempts": 3,
            # A secret of 192 random bits is not guessed by trying: a refused login is
            # answered after a second, not pyftpdlib's three.
            "auth_failed_timeout": 1})
        self._server = FTPServer((host, port), handler)
        self.port = self._server.address[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ftp", daemon=True)

    def wait(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the service's loop and wait for it, from the FTP thread."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(ANSWER_SECONDS)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                self._server.ioloop.loop(_POLL_SECONDS, blocking=False)
        finally:
            self._server.close_all()

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.to_thread(self._thread.join, 5.0)
