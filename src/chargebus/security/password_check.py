"""The contract for password checks, between an edge and the workers: the edges may not
read the hashes (the access bucket), so they ask.

Request, on subjects.password_check(), answered by one worker of a queue group: JSON
{"station_id", "user", "password"}, the station the request's path names and the HTTP
Basic credentials it presented. Reply: JSON {"verdict": "right" | "wrong" | "busy"}.
An unknown station, another user name, a station without a password: "wrong", in the
same bytes and after the same scrypt as a wrong password, so ids cannot be told apart.
"""
import enum

import orjson
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from chargebus.bus import subjects


class Verdict(enum.StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    BUSY = "busy"  # the workers' checks are full: try again later
    UNREACHABLE = "unreachable"  # no worker answered: never an admission


def request(station_id: str, user: str, password: str) -> bytes:
    return orjson.dumps({"station_id": station_id, "user": user, "password": password})


def reply(verdict: Verdict) -> bytes:
    return orjson.dumps({"verdict": verdict.value})


async def ask(nc: Client, station_id: str, user: str, password: str,
              timeout: float) -> Verdict:
    try:
        answer = await nc.request(subjects.password_check(),
                                  request(station_id, user, password), timeout=timeout)
    except (NoRespondersError, NatsTimeoutError):
        return Verdict.UNREACHABLE
    try:
        verdict = Verdict(orjson.loads(answer.data)["verdict"])
    except (ValueError, KeyError, TypeError):
        return Verdict.UNREACHABLE
    return Verdict.WRONG if verdict is Verdict.UNREACHABLE else verdict
