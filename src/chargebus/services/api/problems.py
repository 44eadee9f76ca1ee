"""RFC 9457 problem details: every answer that is not a success, from whatever layer it
comes (a key refused, a payload invalid, a station offline, a route unknown)."""
import logging
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
# A problem's type names its kind; clients branch on it, not on the title's words.
TYPE_PREFIX = "urn:chargebus:problem:"


class FieldError(BaseModel):
    field: str  # where in the request: body.evse_id, query.limit, path.station_id
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    # An operation the station did not carry out: how it ended (operations.commands).
    outcome: str | None = None
    station_id: str | None = None


class ApiProblem(Exception):
    def __init__(self, status: int, kind: str, title: str, detail: str | None = None,
                 headers: dict[str, str] | None = None, **extensions: Any):
        super().__init__(detail or title)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(request: Request, status: int, kind: str, title: str,
                     detail: str | None = None, headers: dict[str, str] | None = None,
                     **extensions: Any) -> Response:
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status,
            "instance": request.url.path}
    if detail is not None:
        body["detail"] = detail
    body |= {name: value for name, value in extensions.items() if value is not None}
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE,
                    headers=headers)


def not_found(what: str) -> ApiProblem:
    return ApiProblem(404, "not-found", "Not found", what)


_KINDS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 406: "not-acceptable", 413: "too-large",
          415: "unsupported-media-type", 429: "too-many-requests"}


def install(app: FastAPI) -> None:
    """Every error as a problem: ours, the framework's, and the unforeseen."""

    async def ours(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiProblem)
        return problem_response(request, error.status, error.kind, error.title, error.detail,
                                error.headers, **error.extensions)

    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        errors = [{"field": ".".join(str(part) for part in item.get("loc", ())),
                   "message": str(item.get("msg", "invalid")).removeprefix("Value error, ")}
                  for item in error.errors()]
        first = errors[0] if errors else {"field": "", "message": "invalid"}
        return problem_response(request, 422, "invalid-request", "Invalid request",
                                f"{first['field']}: {first['message']}", errors=errors)

    async def framework(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        status = error.status_code
        headers = dict(error.headers or {})
        if status == 405:  # the router names only the first route of the path's methods
            headers["Allow"] = ", ".join(_allowed(request))
        return problem_response(request, status, _KINDS.get(status, "http-error"),
                                _title(status), str(error.detail) if error.detail else None,
                                headers)

    async def unforeseen(request: Request, error: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response(request, 500, "internal-error", "Internal error",
                                "chargebus could not answer; its log says why")

    app.add_exception_handler(ApiProblem, ours)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, framework)
    app.add_exception_handler(Exception, unforeseen)


def _allowed(request: Request) -> list[str]:
    """Every method some route of this path takes."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, BaseRoute) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem answers a route may give, for its OpenAPI document: those named, and
    400 for a body that is not JSON at all."""
    return {status: {"model": Problem, "description": _title(status),
                     "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for status in sorted({400, *statuses})}
