"""Pages of a listing: a cursor (the last id of the page before) and a size."""
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

Item = TypeVar("Item")

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items a page, at most")]
After = Annotated[str | None, Query(max_length=256,
                                    description="the `next` of the page before")]


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    # Where the next page starts (give it as `after`); None on the last page.
    next: str | None = None
