"""The file service over HTTP(S): GET (and HEAD) a firmware image, PUT or POST an upload.

    GET|HEAD  /files/<grant>/<secret>/<name>    the file a download grant opens
    PUT       /files/<grant>/<secret>/<name>    an upload, named
    POST      /files/<grant>/<secret>/[<name>]  an upload: multipart/form-data (the first
              file part, by its own name) or the body itself

Stations differ in how they upload a diagnostics file to the location they were given:
some PUT it to the location plus its name, some POST it as a form, so all three are
taken. Every refusal is an RFC 9457 problem.
"""
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import BodyPartReader, web

from chargebus.files import grants
from chargebus.files.storage import TooLarge
from chargebus.services.files.desk import FileDesk, Refused
from chargebus.state.records import FileGrant

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
_CHUNK = 1 << 16
_DESK = web.AppKey("desk", FileDesk)


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"type": "about:blank", "title": title, "status": status,
                              "detail": detail, **extra},
                             status=status, content_type=PROBLEM_TYPE)


@web.middleware
async def _problems(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's own refusals (no such route, a method the route lacks) as problems too."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return problem(error.status, error.reason, error.text or error.reason)


def application(desk: FileDesk) -> web.Application:
    app = web.Application(middlewares=[_problems])
    app[_DESK] = desk
    root = f"/{grants.URL_ROOT}/{{grant}}/{{secret}}"
    app.router.add_get(f"{root}/{{name}}", _download)  # HEAD too
    app.router.add_put(f"{root}/{{name}}", _put)
    app.router.add_post(f"{root}/{{name}}", _post)
    app.router.add_post(f"{root}/", _post)
    return app


async def _grant(request: web.Request, kind: grants.Kind) -> FileGrant | web.Response:
    """The grant the URL opens, or the problem that says why it opens none."""
    try:
        return await request.app[_DESK].open(request.match_info["grant"],
                                             request.match_info["secret"], kind)
    except Refused as refused:
        title = refused.refusal.name.replace("_", " ").capitalize()
        return problem(refused.refusal.value, title, str(refused))


async def _download(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "download")
    if isinstance(grant, web.Response):
        return grant
    desk = request.app[_DESK]
    if request.match_info["name"] != grant.name or not desk.storage.exists(grant.key):
        return problem(404, "Not found", "this URL opens another file, or the file is gone")
    return web.FileResponse(desk.storage.path(grant.key))


async def _put(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "upload")
    if isinstance(grant, web.Response):
        return grant
    return await _receive(request, grant, request.match_info["name"], request.content.read)


async def _post(request: web.Request) -> web.StreamResponse:
    grant = await _grant(request, "upload")
    if isinstance(grant, web.Response):
        return grant
    name = request.match_info.get("name") or grants.UNNAMED
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.filename:
                return await _receive(request, grant, _base_name(part.filename),
                                      part.read_chunk)
        return problem(400, "No file", "the form holds no file part")
    return await _receive(request, grant, _name_of(request.headers) or name,
                          request.content.read)


async def _receive(request: web.Request, grant: FileGrant, name: str,
                   read: Callable[[int], Awaitable[bytes]]) -> web.Response:
    desk = request.app[_DESK]
    try:
        key = desk.upload_key(grant, name)
    except ValueError as error:
        return problem(400, "Bad file name", str(error))
    if request.content_length is not None and request.content_length > grant.max_bytes:
        return _too_large(grant.max_bytes)
    receiving = desk.storage.receive(key, grant.max_bytes)
    try:
        while chunk := await read(_CHUNK):
            receiving.write(chunk)
    except TooLarge:
        receiving.abort()
        return _too_large(grant.max_bytes)
    except BaseException:
        receiving.abort()
        raise
    sha256 = receiving.finish()
    stored = await desk.stored(grant, key, name, receiving.size, sha256,
                               "https" if request.secure else "http")
    log.info("%s: %s stored (%d bytes) for %s", grant.grant_id, name, stored.size,
             grant.station_id or grant.issued_by)
    return web.json_response({"file_id": stored.file_id, "name": name, "size": stored.size,
                              "sha256": sha256}, status=201)


def _too_large(limit: int) -> web.Response:
    return problem(413, "Too large", f"this URL takes at most {limit} bytes", limit=limit)


def _name_of(headers: Mapping[str, str]) -> str | None:
    """A bare POST body's name, where its Content-Disposition gives one."""
    disposition = headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return _base_name(value.strip('"'))
    return None


def _base_name(name: str) -> str:
    """Some clients send the path they read the file from."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]
