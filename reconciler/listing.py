"""List every user of a window, never asking for more than one search can return.

Auth0 pages through at most the first 1000 results of one search, so a window
whose total reaches 1000 is split (by the share a page of 900 users takes of
its total: users are roughly spread over time) until each part holds fewer.
The first page of every search also brings its total, so a window that fits
costs `ceil(total / 100)` requests and a split one costs one more.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from reconciler.management import ListingRejected, UserSearch
from reconciler.windows import Window

PER_PAGE = 100  # Auth0's maximum
MAX_RESULTS = 1000  # Auth0 pages through only this many results of one search
SPLIT_TARGET = 900  # users aimed at per part when a window is split


class WindowTooDense(ListingRejected):
    """1000 or more users share one millisecond: no created_at range can list them."""


def list_users(search: UserSearch, window: Window) -> Iterator[tuple[Window, list[dict[str, Any]]]]:
    """Yield `(part, users)` for adjacent parts covering `window`, oldest part first."""
    pending = [window]
    while pending:
        current = pending.pop()
        first = search.search(current.query(), 0, PER_PAGE)
        if first.total >= MAX_RESULTS:
            if current.width_ms == 1:
                raise WindowTooDense(f"{first.total} users created in one millisecond")
            parts = current.split(math.ceil(first.total / SPLIT_TARGET))
            pending.extend(reversed(parts))
            continue
        yield current, _all_pages(search, current, first.users, first.total)


def _all_pages(
    search: UserSearch, window: Window, first: list[dict[str, Any]], total: int
) -> list[dict[str, Any]]:
    users = {user["user_id"]: user for user in first}
    pages = min(math.ceil(total / PER_PAGE), MAX_RESULTS // PER_PAGE)
    for page in range(1, pages):
        for user in search.search(window.query(), page, PER_PAGE).users:
            users[user["user_id"]] = user  # a page that shifted repeats a user: keep it once
    return list(users.values())
