"""uvicorn, run inside a chargebus service: the one module that knows how.

chargebus.runtime.service owns the process's signals (it stops NATS after the server);
uvicorn's Server would take SIGINT and SIGTERM for itself while it serves, so this
Server leaves them alone and is stopped by ``stop``.
"""
import asyncio
import contextlib
import logging
import ssl
from collections.abc import Generator
from pathlib import Path

import uvicorn
from fastapi import FastAPI

# Open connections (an event feed) get this long to finish once the server stops.
GRACEFUL_SECONDS = 3


# uvicorn announces itself at INFO ("Press CTRL+C to quit"): the service's own line says
# where the API is, and Ctrl-C is the supervisor's.
logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    def __init__(self, app: FastAPI, host: str, port: int, certificate: Path | None = None,
                 key: Path | None = None):
        config = uvicorn.Config(
            app, host=host, port=port, loop="none", http="httptools", lifespan="off",
            log_config=None, access_log=False, server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            ssl_certfile=certificate, ssl_keyfile=key,
            ssl_version=ssl.PROTOCOL_TLS_SERVER)
        self._server = _Server(config)
        self._serving: asyncio.Task | None = None

    async def start(self) -> None:
        """Listening once this returns; OSError where the port cannot be had."""
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # its error
                raise OSError(f"cannot listen on {self._server.config.host}:"
                              f"{self._server.config.port}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._serving is not None:
            await asyncio.gather(self._serving, return_exceptions=True)
