"""The FastAPI application: /api/v1, its OpenAPI 3.1 document at /api/v1/openapi.json and
its interactive docs at /api/v1/docs."""
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from swagger_ui_bundle import swagger_ui_path

from chargebus import __version__
from chargebus.services.api import problems
from chargebus.services.api.access import Access
from chargebus.services.api.context import ApiContext
from chargebus.services.api.routes import (analytics, charging, feed, files, firmware,
                                           locallists, operations, records, stations,
                                           tokens, transactions)

PREFIX = "/api/v1"
OPENAPI = f"{PREFIX}/openapi.json"
DOCS = f"{PREFIX}/docs"
DOCS_ASSETS = f"{DOCS}/assets"
DESCRIPTION = """The operator's API of chargebus, an OCPP 1.6 / 2.0.1 / 2.1 CSMS.

Every request but the health check carries an API key (`chargebus api-keys add`):
`Authorization: Bearer cbk_...`. A key's scope is read, operate (also sends operations
and changes tokens) or admin; a key limited to sites or stations sees only those.
Errors are RFC 9457 problem details (application/problem+json)."""


class Health(BaseModel):
    status: str
    stations: int  # known to this API process's view of the fleet


def application(context: ApiContext, access: Access) -> FastAPI:
    app = FastAPI(title="chargebus", version=__version__, description=DESCRIPTION,
                  openapi_url=OPENAPI, docs_url=None, redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None)
    app.state.context = context
    app.state.access = access
    problems.install(app)
    api = APIRouter(prefix=PREFIX)

    @api.get("/health", response_model=Health, tags=["health"],
             summary="Whether this API process is up (no key needed)")
    async def health() -> Health:
        return Health(status="ok", stations=len(context.fleet))

    for module in (stations, operations, transactions, records, tokens, feed, analytics,
                   firmware, charging, files, locallists):
        api.include_router(module.router)
    api.include_router(operations.commands_router)
    app.include_router(api)
    _docs(app)
    return app


def _docs(app: FastAPI) -> None:
    """Swagger UI from this server, not a CDN: the docs work where the network is closed.
    The document and its docs are the same for everyone and hold nothing of the
    network's: they are the only pages besides the health check that need no key."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get(DOCS, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI, title="chargebus API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")
