"""In-memory implementations of the reconciler's own interfaces, for unit tests."""

from __future__ import annotations

from typing import Any

from localdev.auth0.directory import CreatedAtRange, parse_created_at_range
from reconciler.management import SearchPage

MAX_RESULTS = 1000


class InMemoryUserSearch:
    """`UserSearch` over a list of users, enforcing the 1000-result rule like Auth0."""

    def __init__(self, users: list[dict[str, Any]]) -> None:
        self.users = users
        self.calls: list[tuple[str, int, int]] = []

    def search(self, query: str, page: int, per_page: int) -> SearchPage:
        self.calls.append((query, page, per_page))
        assert per_page <= 100, "Auth0 serves at most 100 per page"
        assert page * per_page + per_page <= MAX_RESULTS, "paged past the first 1000 results"
        created: CreatedAtRange = parse_created_at_range(query)
        found = sorted(
            (u for u in self.users if _ms(u) in created), key=lambda u: (_ms(u), u["user_id"])
        )
        return SearchPage(found[page * per_page : (page + 1) * per_page], len(found))


def _ms(user: dict[str, Any]) -> int:
    from localdev.auth0.directory import parse_ms

    return parse_ms(str(user["created_at"]))
