"""The file service's process: the HTTP(S) server and, unless its port is 0, FTP."""
import logging
import ssl

from aiohttp import web

from chargebus.bus.client import BusClient
from chargebus.files.storage import LocalStorage
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings
from chargebus.runtime.service import Stop
from chargebus.services.files.desk import FileDesk
from chargebus.services.files.ftp import FtpUploads
from chargebus.services.files.http import application
from chargebus.state.stores import Stores

log = logging.getLogger(__name__)


async def start_files(settings: Settings, nc: BusClient) -> Stop:
    desk = FileDesk(Stores(nc.jetstream()), LocalStorage(settings.files_dir), utc_now)
    tls = None
    if settings.files_tls_certificate and settings.files_tls_key:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings.files_tls_certificate, settings.files_tls_key)
    runner = web.AppRunner(application(desk), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.files_host, settings.files_http_port,
                           ssl_context=tls)
        await site.start()
        ftp = None
        if settings.files_ftp_port:
            ftp = FtpUploads(desk, settings.files_host, settings.files_ftp_port,
                             settings.files_passive_ports, settings.files_ftp_public_host)
            ftp.start()
    except OSError as error:
        await runner.cleanup()
        raise SystemExit(f"files: cannot listen: {error}") from None
    log.info("files: %s, FTP on port %s, kept in %s", settings.files_url,
             settings.files_ftp_port or "none", settings.files_dir)

    async def stop() -> None:
        if ftp is not None:
            await ftp.stop()
        await runner.cleanup()

    return stop
