"""/tokens: the id tokens stations present, with the command line's checks
(chargebus.manage.tokens). Tokens belong to the whole network: a key limited to some
stations may not read or change them."""
import bisect
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from chargebus.domain.model import AuthorizationStatus, TokenType
from chargebus.manage import tokens
from chargebus.ocpp.clock import Moment
from chargebus.security.apikeys import Scope
from chargebus.services.api.access import requires_network_wide, sender
from chargebus.services.api.context import ApiContext, context
from chargebus.services.api.paging import DEFAULT_LIMIT, After, Limit, Page
from chargebus.services.api.problems import ApiProblem, documented, not_found
from chargebus.state.identifiers import MAX_TOKEN_ID_LENGTH
from chargebus.state.records import ApiKey, Token
from chargebus.state.stores import token_key

router = APIRouter(prefix="/tokens", tags=["tokens"])

TokenId = Annotated[str, Path(min_length=1, max_length=MAX_TOKEN_ID_LENGTH,
                              description="the id token (compared without regard to case)")]
Context = Annotated[ApiContext, Depends(context)]
# A CSV upload of tokens, at most.
MAX_CSV_BYTES = 20 << 20


Reader = Annotated[ApiKey, Depends(requires_network_wide(Scope.READ, "tokens"))]
Operator = Annotated[ApiKey, Depends(requires_network_wide(Scope.OPERATE, "tokens"))]


class TokenFields(BaseModel):
    """A token as given to PUT: everything but its id, which is in the path."""

    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    expires_at: Moment | None = None
    parent_id: str | None = Field(default=None, min_length=1, max_length=MAX_TOKEN_ID_LENGTH)
    type: TokenType | None = None
    max_active: int = Field(default=1, ge=0, strict=True,
                            description="transactions at once; 0: no limit")


class TokenPut(BaseModel):
    token: Token
    warning: str | None = None  # kept, but some stations cannot use it


class LinesWarning(BaseModel):
    warning: str
    lines: list[int]


class TokenImport(BaseModel):
    imported: int
    warnings: list[LinesWarning] = []


def _checked_id(id_token: str) -> str:
    try:
        return tokens.token_id(id_token)
    except ValueError as error:
        raise ApiProblem(422, "invalid-request", "Invalid request", f"path.id_token: {error}",
                         errors=[{"field": "path.id_token", "message": str(error)}]) from None


@router.get("", response_model=Page[Token], responses=documented(401, 403, 422, 429),
            summary="The tokens, in the order of their keys")
async def list_tokens(key: Reader, api: Context, limit: Limit = DEFAULT_LIMIT,
                      after: After = None) -> Page[Token]:
    everything = sorted(await api.stores.tokens.all(), key=lambda t: token_key(t.id_token))
    keys = [token_key(token.id_token) for token in everything]
    start = 0 if after is None else bisect.bisect_right(keys, after)
    page = everything[start:start + limit]
    more = start + limit < len(everything)
    return Page[Token](items=page, next=keys[start + limit - 1] if more else None)


@router.post("/import", response_model=TokenImport, responses=documented(401, 403, 413, 422, 429),
             summary="Add or replace tokens from CSV: all, or none where a line is wrong",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {
                 "schema": {"type": "string"}}}}})
async def import_tokens(request: Request, key: Operator, api: Context) -> TokenImport:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_CSV_BYTES:
            raise ApiProblem(413, "too-large", "Too large",
                             f"a CSV of tokens is at most {MAX_CSV_BYTES} bytes")
    try:
        read = tokens.read_csv(tokens.decode_csv(bytes(data)))
    except tokens.CsvProblems as problems:
        raise ApiProblem(422, "invalid-csv", "Invalid CSV, nothing imported",
                         problems.problems[0],
                         errors=[{"field": "body", "message": problem}
                                 for problem in problems.problems]) from None
    except ValueError as error:
        raise ApiProblem(422, "invalid-csv", "Invalid CSV, nothing imported", str(error),
                         errors=[{"field": "body", "message": str(error)}]) from None
    warnings = await tokens.import_all(api.stores, api.js, read, sender(key))
    return TokenImport(imported=len(read), warnings=[
        LinesWarning(warning=warning, lines=lines) for warning, lines in warnings.items()])


@router.get("/{id_token}", response_model=Token, responses=documented(401, 403, 404, 422, 429),
            summary="One token")
async def get_token(id_token: TokenId, key: Reader, api: Context) -> Token:
    found = await api.stores.tokens.get(token_key(id_token))
    if found is None:
        raise not_found(f"no token {id_token}")
    return found


@router.put("/{id_token}", response_model=TokenPut, responses=documented(401, 403, 422, 429),
            summary="Add or replace a token")
async def put_token(id_token: TokenId, fields: TokenFields, key: Operator, api: Context
                    ) -> TokenPut:
    _checked_id(id_token)
    token = Token(id_token=id_token, **fields.model_dump())
    try:
        await tokens.put(api.stores, api.js, token, sender(key))
    except ValueError as error:
        raise ApiProblem(422, "invalid-request", "Invalid request", f"body.parent_id: {error}",
                         errors=[{"field": "body.parent_id", "message": str(error)}]) from None
    return TokenPut(token=token, warning=tokens.warning_for_16(token))


@router.post("/{id_token}/{change}", response_model=Token,
             responses=documented(401, 403, 404, 422, 429),
             summary="Block a token, or let it expire now")
async def change_token(id_token: TokenId, change: tokens.Change, key: Operator, api: Context
                       ) -> Token:
    changed = await tokens.change(api.stores, api.js, id_token, change, sender(key))
    if changed is None:
        raise not_found(f"no token {id_token}")
    return changed


@router.delete("/{id_token}", status_code=204, response_class=Response,
               responses=documented(401, 403, 404, 422, 429), summary="Delete a token")
async def delete_token(id_token: TokenId, key: Operator, api: Context) -> Response:
    if not await tokens.delete(api.stores, api.js, id_token, sender(key)):
        raise not_found(f"no token {id_token}")
    return Response(status_code=204)
