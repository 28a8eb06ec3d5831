"""Bounded, validated pagination for every list route.

A list route takes ``limit`` (1..MAX_LIMIT, default DEFAULT_LIMIT) and ``offset`` (0..MAX_OFFSET, default
0); anything else (``limit=-1``, ``0``, ``100000``) is a 422 naming the field. The answer stays the
JSON list it always was, so that existing clients keep working, and says how to get the next page in
its headers: ``X-Total-Count`` (how many there are in all), and when more follow
``Link: <…?limit=50&offset=50>; rel="next"`` and ``X-Next-Offset: 50``. The order of a list is the
route's own (stable: the same request reads the same order)."""

# no ``from __future__ import annotations``: FastAPI reads Page's signature for its parameters
from collections.abc import Sequence
from typing import Annotated, TypeVar

from fastapi import Query, Request, Response

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


class Page:
    """A FastAPI dependency: ``page: Annotated[Page, Depends()]``, then ``return page.of(items)``."""

    def __init__(self, request: Request, response: Response,
                 limit: Annotated[int, Query(ge=1, le=MAX_LIMIT,
                                             description=f"how many to answer, 1..{MAX_LIMIT} (default {DEFAULT_LIMIT})")
                                  ] = DEFAULT_LIMIT,
                 offset: Annotated[int, Query(ge=0, le=MAX_OFFSET,
                                              description="how many to skip: the X-Next-Offset of the page before")
                                   ] = 0) -> None:
        self.request = request
        self.response = response
        self.limit = limit
        self.offset = offset

    def of(self, items: Sequence[T]) -> list[T]:
        """This page of ``items`` (all of them, in the route's order); sets the next-page headers."""
        total = len(items)
        chunk = list(items[self.offset:self.offset + self.limit])
        self.response.headers["X-Total-Count"] = str(total)
        following = self.offset + self.limit
        if following < total:
            url = self.request.url.include_query_params(limit=self.limit, offset=following)
            self.response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
            self.response.headers["X-Next-Offset"] = str(following)
        return chunk


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_OFFSET", "Page"]
