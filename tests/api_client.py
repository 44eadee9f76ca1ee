"""The HTTP API as its tests call it: keys made through the command line, requests with
one key, answers as (status, body, headers), problems checked."""
import uuid

import aiohttp

from site_stations import cli

PROBLEM = "application/problem+json"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def make_key(system, scope: str, *limits: str) -> str:
    made = await cli(system, "api-keys", "add", new_id(scope), "--scope", scope, *limits)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


class Api:
    """Requests to the system's API with one key; each answer as (status, body, headers)."""

    def __init__(self, system, key: str | None):
        self.root = system.api_url
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    async def call(self, method: str, path: str, json=None, data=None, params=None,
                   headers: dict | None = None):
        async with aiohttp.ClientSession() as session, session.request(
                method, self.root + path, json=json, data=data, params=params,
                headers=self.headers | (headers or {})) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            return response.status, body, response.headers

    async def get(self, path: str, **options):
        return await self.call("GET", path, **options)

    async def post(self, path: str, json=None, **options):
        return await self.call("POST", path, json=json if json is not None else {}, **options)


def is_problem(answer, status: int, kind: str) -> dict:
    code, body, headers = answer
    assert code == status, (code, body)
    assert headers["Content-Type"] == PROBLEM
    assert body["status"] == status and body["type"] == f"urn:chargebus:problem:{kind}", body
    return body
