"""FastAPI and Litestar (each on uvicorn) against a bare aiohttp.web peer, for the REST API.

    /tmp/fwbench/bin/python benchmarks/api_frameworks.py [--runs 2] [--requests 20000]

Needs a venv with fastapi uvicorn[standard] litestar msgspec pydantic orjson aiohttp uvloop
httptools swagger-ui-bundle-v2. Each server is this file run again as a subprocess on
127.0.0.1 (one worker, uvloop; httptools under uvicorn) with the same X-API-Key-guarded
endpoints: a page of 100 or all 10,000 pydantic stations built at start-up, and a reset
whose JSON body a pydantic model validates (valid and invalid). List variants: `fastapi`
(response_model, FastAPI's default pydantic dump), `fastapi-orjson` (ORJSONResponse),
`litestar` (pydantic model returned), `litestar-struct` (msgspec Structs), `*-raw` (body
pre-dumped by pydantic, as the `aiohttp` peer does; these also self-host Swagger UI).
32 aiohttp client workers on 32 keep-alive connections drive each case after a warm-up.
Prints req/s, p50/p99, server CPU per request (/proc/<pid>/stat) and its ratio to the
peer's, server memory, and each framework's OpenAPI version and docs assets. Client and
servers share the cores: compare ratios within one run, not absolute figures.
"""

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
import hmac
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import warnings
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

API_KEY = "chargebus-bench-key-0123456789abcdef"
KEY_BYTES = API_KEY.encode()
N_STATIONS = 10_000
SERVERS = [
    "fastapi",
    "fastapi-orjson",
    "fastapi-raw",
    "litestar",
    "litestar-struct",
    "litestar-raw",
    "aiohttp",
]


class Connector(BaseModel):
    id: int
    status: str


class Station(BaseModel):
    id: str
    version: str
    vendor: str
    model: str
    firmware: str
    online: bool
    edge: str
    connected_at: dt.datetime
    last_heard: dt.datetime
    connectors: list[Connector]


class Page(BaseModel):
    items: list[Station]
    next: str | None


class ResetRequest(BaseModel):
    kind: Literal["Soft", "Hard"]
    when: Literal["Immediate", "OnIdle"] = "Immediate"
    evse_id: Annotated[int, Field(ge=1)] | None = None


class ResetAnswer(BaseModel):
    station_id: str
    status: str


# The same shapes as msgspec Structs, for Litestar's msgspec-native path.
ConnectorS = msgspec.defstruct("ConnectorS", [("id", int), ("status", str)])
StationS = msgspec.defstruct(
    "StationS",
    [
        (name, list[ConnectorS] if name == "connectors" else field.annotation)
        for name, field in Station.model_fields.items()
    ],
)
PageS = msgspec.defstruct("PageS", [("items", list[StationS]), ("next", str | None)])


def build_stations() -> list[Station]:
    base = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    return [
        Station(
            id=f"CP{i:05d}",
            version="2.0.1" if i % 2 else "1.6",
            vendor="Acme",
            model=f"AC22-{i % 7}",
            firmware="4.2.1",
            online=i % 5 != 0,
            edge=f"edge-{i % 3}",
            connected_at=base + dt.timedelta(seconds=i),
            last_heard=base + dt.timedelta(seconds=2 * i),
            connectors=[
                Connector(id=c, status="Available" if (i + c) % 3 else "Charging") for c in (1, 2)
            ],
        )
        for i in range(N_STATIONS)
    ]


STATIONS: list[Station] = []
PAGE_JSON = TypeAdapter(Page)


def page(offset: int, limit: int) -> Page:
    end = offset + limit
    return Page(items=STATIONS[offset:end], next=str(end) if end < N_STATIONS else None)


def fastapi_app(variant: str) -> Any:
    from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse, ORJSONResponse
    from fastapi.security import APIKeyHeader

    header = APIKeyHeader(name="X-API-Key", auto_error=False)

    async def check_key(key: str | None = Depends(header)) -> None:
        if key is None or not hmac.compare_digest(key.encode(), KEY_BYTES):
            raise HTTPException(401, "bad API key")

    raw = variant == "raw"
    app = FastAPI(title="chargebus", docs_url=None if raw else "/docs")
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(check_key)])
    Offset, Limit = Annotated[int, Query(ge=0)], Annotated[int, Query(ge=1, le=N_STATIONS)]
    if variant != "raw":  # FastAPI's default path, or the older ORJSONResponse idiom
        response_class: Any = {"response_class": ORJSONResponse} if variant == "orjson" else {}

        @router.get("/stations", response_model=Page, **response_class)
        async def stations(offset: Offset = 0, limit: Limit = 100) -> Page:
            return page(offset, limit)
    else:

        @router.get("/stations", response_model=Page)
        async def stations(offset: Offset = 0, limit: Limit = 100) -> Response:
            return Response(PAGE_JSON.dump_json(page(offset, limit)), media_type="application/json")

    @router.post("/stations/{station_id}/reset", response_model=ResetAnswer)
    async def reset(station_id: str, body: ResetRequest) -> ResetAnswer:
        return ResetAnswer(station_id=station_id, status="Accepted")

    app.include_router(router)
    if raw:  # self-hosted Swagger UI from the swagger-ui-bundle package
        from fastapi.staticfiles import StaticFiles
        from swagger_ui_bundle import swagger_ui_path

        app.mount("/static", StaticFiles(directory=str(swagger_ui_path)), name="static")

        @app.get("/docs", include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json",
                title="chargebus",
                swagger_js_url="/static/swagger-ui-bundle.js",
                swagger_css_url="/static/swagger-ui.css",
                swagger_favicon_url="/static/favicon-32x32.png",
            )

    return app


def litestar_app(variant: str) -> Any:
    from litestar import Litestar, Response, Router, get, post
    from litestar.connection import ASGIConnection
    from litestar.exceptions import NotAuthorizedException
    from litestar.handlers import BaseRouteHandler
    from litestar.openapi import OpenAPIConfig
    from litestar.params import Parameter

    def check_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if not hmac.compare_digest(connection.headers.get("x-api-key", "").encode(), KEY_BYTES):
            raise NotAuthorizedException("bad API key")

    Offset = Annotated[int, Parameter(ge=0)]
    Limit = Annotated[int, Parameter(ge=1, le=N_STATIONS)]
    if variant == "default":

        @get("/stations")
        async def stations(offset: Offset = 0, limit: Limit = 100) -> Page:
            return page(offset, limit)
    elif variant == "struct":
        structs = msgspec.convert([s.model_dump() for s in STATIONS], list[StationS])

        @get("/stations")
        async def stations(offset: Offset = 0, limit: Limit = 100) -> PageS:
            end = offset + limit
            return PageS(items=structs[offset:end], next=str(end) if end < N_STATIONS else None)
    else:

        @get("/stations")
        async def stations(offset: Offset = 0, limit: Limit = 100) -> Response[bytes]:
            return Response(PAGE_JSON.dump_json(page(offset, limit)), media_type="application/json")

    @post("/stations/{station_id:str}/reset", status_code=200)
    async def reset(station_id: str, data: ResetRequest) -> ResetAnswer:
        return ResetAnswer(station_id=station_id, status="Accepted")

    handlers: list[Any] = [Router("/api/v1", route_handlers=[stations, reset], guards=[check_key])]
    if variant != "raw":
        return Litestar(handlers)
    from litestar.openapi.plugins import SwaggerRenderPlugin
    from litestar.static_files import create_static_files_router
    from swagger_ui_bundle import swagger_ui_path

    handlers.append(create_static_files_router("/static", directories=[str(swagger_ui_path)]))
    swagger = SwaggerRenderPlugin(
        js_url="/static/swagger-ui-bundle.js",
        css_url="/static/swagger-ui.css",
        standalone_preset_js_url="/static/swagger-ui-standalone-preset.js",
        favicon="<link rel='icon' href='/static/favicon-32x32.png'>",
    )
    return Litestar(
        handlers,
        openapi_config=OpenAPIConfig(title="chargebus", version="1", render_plugins=[swagger]),
    )


def aiohttp_app() -> Any:
    from aiohttp import web

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        if not hmac.compare_digest(request.headers.get("X-API-Key", "").encode(), KEY_BYTES):
            return web.json_response({"detail": "bad API key"}, status=401)
        return await handler(request)

    async def stations(request: web.Request) -> web.Response:
        try:
            offset, limit = (
                int(request.query.get("offset", "0")),
                int(request.query.get("limit", "100")),
            )
        except ValueError:
            offset, limit = -1, 0
        if offset < 0 or not 1 <= limit <= N_STATIONS:
            return web.json_response({"detail": "offset >= 0, 1 <= limit <= 10000"}, status=422)
        return web.Response(
            body=PAGE_JSON.dump_json(page(offset, limit)), content_type="application/json"
        )

    async def reset(request: web.Request) -> web.Response:
        try:
            ResetRequest.model_validate_json(await request.read())
        except ValidationError as e:
            return web.Response(body=e.json(), status=422, content_type="application/json")
        body = orjson.dumps({"station_id": request.match_info["station_id"], "status": "Accepted"})
        return web.Response(body=body, content_type="application/json")

    app = web.Application(middlewares=[auth])
    app.router.add_get("/api/v1/stations", stations)
    app.router.add_post("/api/v1/stations/{station_id}/reset", reset)
    return app


def serve(name: str, port: int) -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # die with the benchmark process
    warnings.simplefilter("ignore")
    STATIONS.extend(build_stations())
    framework, _, variant = name.partition("-")
    if framework == "aiohttp":
        import uvloop
        from aiohttp import web

        web.run_app(
            aiohttp_app(),
            host="127.0.0.1",
            port=port,
            access_log=None,
            print=None,
            loop=uvloop.new_event_loop(),
        )
        return
    import uvicorn

    app = (fastapi_app if framework == "fastapi" else litestar_app)(variant or "default")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


HEADERS = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
GOOD, BAD = (
    orjson.dumps({"kind": "Hard", "evse_id": 1}),
    orjson.dumps({"kind": "Warm", "evse_id": 0}),
)
CASES: dict[str, tuple[str, int]] = {
    "list 100": ("GET", 100),
    "list 10000": ("GET", N_STATIONS),
    "reset ok": ("POST", 200),
    "reset invalid": ("POST", 422),
}


def request_for(case: str, i: int) -> tuple[str, str, bytes | None]:
    if case.startswith("list"):
        limit = CASES[case][1]
        return (
            "GET",
            f"/api/v1/stations?offset={(i * limit) % (N_STATIONS - limit + 1)}&limit={limit}",
            None,
        )
    return (
        "POST",
        f"/api/v1/stations/CP{i % N_STATIONS:05d}/reset",
        GOOD if case == "reset ok" else BAD,
    )


async def check(session: Any, base: str, case: str) -> None:
    method, path, body = request_for(case, 1)
    async with session.request(method, base + path, data=body, headers=HEADERS) as r:
        got, status = orjson.loads(await r.read()), r.status
    if case.startswith("list"):
        limit = CASES[case][1]
        offset = limit % (N_STATIONS - limit + 1)
        ok = status == 200 and got == orjson.loads(PAGE_JSON.dump_json(page(offset, limit)))
    elif case == "reset ok":
        ok = status == 200 and got == {"station_id": "CP00001", "status": "Accepted"}
    else:
        ok = status in (400, 422)
    async with session.get(base + "/api/v1/stations", headers={"X-API-Key": "wrong"}) as r:
        ok = ok and r.status == 401
    if not ok:
        raise RuntimeError(f"{base} {case}: unexpected answer {status} {str(got)[:200]}")


async def drive(session: Any, base: str, case: str, n: int) -> tuple[float, list[float], int]:
    counter, latencies, errors = itertools.count(), [], 0

    async def worker() -> None:
        nonlocal errors
        while (i := next(counter)) < n:
            method, path, body = request_for(case, i)
            t0 = time.perf_counter()
            async with session.request(method, base + path, data=body, headers=HEADERS) as r:
                await r.read()
                errors += r.status not in (200, 400, 422)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(32))), timeout=600)
    return time.perf_counter() - t0, latencies, errors


DOC_PAGES = {
    "fastapi": ("/openapi.json", ["/docs", "/redoc"]),
    "fastapi-raw": ("/openapi.json", ["/docs"]),
    "litestar": ("/schema/openapi.json", ["/schema", "/schema/swagger"]),
    "litestar-raw": ("/schema/openapi.json", ["/schema/swagger"]),
}


async def docs_report(session: Any, name: str, base: str) -> list[str]:
    spec_path, pages = DOC_PAGES[name]
    async with session.get(base + spec_path) as r:
        lines = [f"{name}: {spec_path} -> openapi {orjson.loads(await r.read()).get('openapi')!r}"]
    for p in pages:
        async with session.get(base + p) as r:
            html = await r.text()
        for url in sorted(set(re.findall(r"""(?:src|href)=["']([^"']+)["']""", html))):
            if url.startswith("/"):
                async with session.get(base + url) as a:
                    where = f"local, HTTP {a.status}, {len(await a.read()):,} bytes"
            else:
                where = "external"
            lines.append(f"  {p} loads {url} ({where})")
    return lines


async def one_run(run: int, order: list[str], n: int, big: int) -> None:
    import aiohttp

    rows: dict[tuple[str, str], tuple[float, float, float, float]] = {}
    memory: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        for name in order:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            base = f"http://127.0.0.1:{port}"
            started = time.perf_counter()
            proc = await asyncio.to_thread(
                subprocess.Popen,
                [sys.executable, os.path.abspath(__file__), "--serve", name, "--port", str(port)],
            )
            try:
                while True:
                    if proc.poll() is not None or time.perf_counter() - started > 60:
                        raise RuntimeError(f"{name} did not start")
                    with contextlib.suppress(aiohttp.ClientError):
                        async with session.get(
                            base + "/api/v1/stations?limit=1", headers=HEADERS
                        ) as r:
                            if r.status == 200:
                                break
                    await asyncio.sleep(0.05)
                ready_s, rss_ready = time.perf_counter() - started, rss_mib(proc.pid)
                if run == 1 and name in DOC_PAGES:
                    print("\n".join(await docs_report(session, name, base)), flush=True)
                for case in (
                    CASES if "-" not in name else ["list 100", "list 10000"]
                ):  # variants differ in lists only
                    count = big if case == "list 10000" else n
                    await check(session, base, case)
                    await drive(session, base, case, max(count // 20, 10))
                    if case == "list 100":
                        rss_warm = rss_mib(proc.pid)
                    ticks = cpu_ticks(proc.pid)
                    elapsed, lat, errors = await drive(session, base, case, count)
                    cpu_us = (cpu_ticks(proc.pid) - ticks) / os.sysconf("SC_CLK_TCK") / count * 1e6
                    q = statistics.quantiles(lat, n=100)
                    rows[(name, case)] = (count / elapsed, q[49] * 1e3, q[98] * 1e3, cpu_us)
                    if errors:
                        print(f"  {name} {case}: {errors} unexpected statuses", flush=True)
                memory.append(
                    f"{name:16} ready in {ready_s:5.2f} s  RSS at ready {rss_ready:6.1f} MiB"
                    f"  after warm-up {rss_warm:6.1f} MiB"
                    f"  peak {rss_mib(proc.pid, 'VmHWM'):6.1f} MiB"
                )
            finally:
                proc.kill()
                await asyncio.to_thread(proc.wait)
    print(f"\nrun {run} (servers in order {', '.join(order)})")
    print(
        f"{'framework':16} {'case':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11}"
        f" {'vs aiohttp':>10}"
    )
    for case in CASES:
        peer = rows[("aiohttp", case)][3]
        for name in SERVERS:
            if (name, case) in rows:
                rps, p50, p99, cpu = rows[(name, case)]
                print(f"{name:16} {case:14} {rps:8.0f} {p50:8.2f} {p99:8.2f} {cpu:11.0f}"
                      f" {cpu / peer:9.2f}x")
    print("\n".join(memory), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--requests", type=int, default=20_000, help="per small case")
    parser.add_argument("--big-requests", type=int, default=200, help="for the 10,000-station list")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.port)
    STATIONS.extend(build_stations())
    import uvloop

    for run in range(1, args.runs + 1):
        order = SERVERS if run % 2 else SERVERS[::-1]
        uvloop.run(one_run(run, order, args.requests, args.big_requests))


if __name__ == "__main__":
    main()
