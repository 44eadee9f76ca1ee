"""The files a simulated station really fetches and sends, as stations do: its firmware
over HTTP(S) or FTP from the URL it was given, its diagnostics and logs by HTTP PUT or
POST, or by FTP, to the location it was given. A transfer that fails (a refusal, a
host that does not answer, a time-out) is reported as the station would: DownloadFailed,
UploadFailed."""
import asyncio
import ftplib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

import aiohttp

TRANSFER_SECONDS = 20.0

# The calls a station sends once a transfer ended, by whether it went well.
Reported = Callable[[bool], list[tuple[str, dict]]]


@dataclass(frozen=True)
class Transfer:
    direction: Literal["download", "upload"]
    url: str
    reported: Reported
    name: str = ""  # an upload's file name
    content: bytes = b""
    by_post: bool = False  # an HTTP upload as a form, not a PUT
    delay: float = 0.0  # seconds before it starts


async def run(transfer: Transfer) -> bool:
    """Whether the transfer went through."""
    await asyncio.sleep(transfer.delay)
    try:
        async with asyncio.timeout(TRANSFER_SECONDS):
            if urlsplit(transfer.url).scheme == "ftp":
                await asyncio.to_thread(_ftp, transfer)
            elif transfer.direction == "download":
                await _http_download(transfer.url)
            else:
                await _http_upload(transfer)
    except (OSError, TimeoutError, aiohttp.ClientError, ftplib.Error, EOFError, ValueError):
        return False
    return True


async def _http_download(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        return len(await response.read())


async def _http_upload(transfer: Transfer) -> None:
    async with aiohttp.ClientSession() as session:
        if transfer.by_post:
            form = aiohttp.FormData()
            form.add_field("file", transfer.content, filename=transfer.name,
                           content_type="application/octet-stream")
            request = session.post(transfer.url, data=form)
        else:
            target = transfer.url + (transfer.name if transfer.url.endswith("/") else "")
            request = session.put(target, data=transfer.content)
        async with request as response:
            response.raise_for_status()


def _ftp(transfer: Transfer) -> None:
    parts = urlsplit(transfer.url)
    with ftplib.FTP(timeout=TRANSFER_SECONDS) as ftp:
        ftp.connect(parts.hostname or "", parts.port or 21)
        ftp.login(unquote(parts.username or "anonymous"), unquote(parts.password or ""))
        folder = parts.path.rstrip("/")
        if transfer.direction == "upload":
            if folder:
                ftp.cwd(folder)
            ftp.storbinary(f"STOR {transfer.name}", io.BytesIO(transfer.content))
        else:
            received = io.BytesIO()
            ftp.retrbinary(f"RETR {parts.path}", received.write)


def broken(url: str) -> str:
    """The URL as a proxy that breaks URLs passes it on: its path's last part changed
    (a credential in the path no longer opens it)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    head, _, last = path.rpartition("/")
    return parts._replace(path=f"{head}/{last}x" if last else f"{path}/x").geturl()
