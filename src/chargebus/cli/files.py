"""`chargebus files`: what the file service holds, and firmware images put there.

The command line reaches the file service as stations do: through a URL of its own
(chargebus.files.grants) that opens one upload or one download, for minutes.
"""
import argparse
import asyncio
import hashlib
import shutil
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

import orjson

from chargebus.cli.common import print_json, sender, with_stores
from chargebus.files import grants
from chargebus.manage import stationlogs
from chargebus.manage.stationlogs import OWN_URL
from chargebus.ocpp.clock import utc_now
from chargebus.runtime.config import Settings
from chargebus.state.records import StoredFile
from chargebus.state.stores import Stores

HTTP_SECONDS = 60.0


def register(commands) -> None:
    group = commands.add_parser(
        "files", help="firmware images and stations' uploads the file service holds"
    ).add_subparsers(title="files")
    publish = group.add_parser("publish", help="put a firmware image where stations fetch it")
    publish.add_argument("path", type=Path)
    publish.add_argument("--name", type=_name, help="its name (default the file's)")
    publish.set_defaults(command=_publish)
    listing = group.add_parser("list", help="the files held, newest first")
    listing.add_argument("--purpose", choices=(grants.FIRMWARE, grants.DIAGNOSTICS, grants.LOG))
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(command=_list)


def _name(text: str) -> str:
    try:
        return grants.check_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _tls(settings: Settings) -> ssl.SSLContext | None:
    """Trusts chargebus's own CA besides the system's, where the service runs HTTPS."""
    if not settings.files_url.startswith("https"):
        return None
    context = ssl.create_default_context()
    if settings.ca_certificate_path.exists():
        context.load_verify_locations(settings.ca_certificate_path)
    return context


def http(settings: Settings, method: str, url: str, body: bytes | None = None
         ) -> tuple[int, bytes]:
    """One request to the file service: its status and body, whatever the status."""
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_SECONDS,
                                    context=_tls(settings)) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def problem_text(status: int, body: bytes) -> str:
    try:
        return f"{status} {orjson.loads(body)['detail']}"
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return f"{status} {body[:200].decode(errors='replace')}"


def _publish(settings: Settings, arguments: argparse.Namespace) -> int:
    try:
        data = arguments.path.read_bytes()
        name = arguments.name or grants.check_name(arguments.path.name)
    except (OSError, ValueError) as error:
        print(f"chargebus files publish: {error}", file=sys.stderr)
        return 2

    async def publish(stores: Stores, nc) -> int:
        issued = await grants.issue(stores, kind="upload", purpose=grants.FIRMWARE,
                                    key=grants.image_key(name), name=name,
                                    max_bytes=len(data), lifetime=OWN_URL, issued_by=sender(),
                                    now=utc_now())
        try:
            status, body = await _in_thread(settings, "PUT", grants.http_url(settings, issued,
                                                                            name), data)
        except OSError as error:
            print(f"chargebus files publish: the file service at {settings.files_url} "
                  f"cannot be reached: {error}", file=sys.stderr)
            return 1
        if status != 201:
            print(f"chargebus files publish: {problem_text(status, body)}", file=sys.stderr)
            return 1
        print(f"{name}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
        return 0

    return with_stores(settings, publish)


async def _in_thread(settings: Settings, method: str, url: str, body: bytes | None = None
                     ) -> tuple[int, bytes]:
    return await asyncio.to_thread(http, settings, method, url, body)


def _list(settings: Settings, arguments: argparse.Namespace) -> int:
    async def show(stores: Stores, nc) -> int:
        held = sorted(await stores.files.all(), key=lambda each: each.stored_at, reverse=True)
        for stored in held:
            if arguments.purpose and stored.purpose != arguments.purpose:
                continue
            if arguments.json:
                print_json(stored.model_dump(mode="json"))
            else:
                print(line_of(stored))
        return 0

    return with_stores(settings, show)


def line_of(stored: StoredFile) -> str:
    whose = stored.station_id or "-"
    request = f"#{stored.request_id}" if stored.request_id is not None else ""
    return (f"{stored.file_id}  {stored.purpose:<11} {whose}{request}  {stored.name}  "
            f"{stored.size} B  {stored.stored_at.isoformat(timespec='seconds')}  via {stored.via}")


async def fetch(stores: Stores, settings: Settings, stored: StoredFile, target: Path) -> str | None:
    """Download a held file into ``target``; None, or what went wrong."""
    url = await stationlogs.download_url(stores, settings, stored, sender(), utc_now())
    try:
        status, body = await _in_thread(settings, "GET", url)
    except OSError as error:
        return f"the file service at {settings.files_url} cannot be reached: {error}"
    if status != 200:
        return problem_text(status, body)
    if str(target) == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        return None
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(body)
    shutil.move(partial, target)
    return None
