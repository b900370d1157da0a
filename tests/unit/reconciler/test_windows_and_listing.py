"""Windows, their queries, and listing with splits (in memory)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from localdev.auth0.directory import format_ms, parse_created_at_range, parse_ms
from reconciler.listing import WindowTooDense, list_users
from reconciler.windows import Window, iso_ms, to_ms
from tests.unit.reconciler.fakes import InMemoryUserSearch

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def users_at(moments: list[datetime], prefix: str = "u") -> list[dict[str, str]]:
    return [
        {"user_id": f"auth0|{prefix}{i:05d}", "created_at": format_ms(m)}
        for i, m in enumerate(moments)
    ]


def test_a_window_is_half_open_in_milliseconds():
    window = Window.between(T0, T0 + timedelta(seconds=1))
    assert window.query() == "created_at:[2026-11-26T03:00:00.000Z TO 2026-11-26T03:00:01.000Z}"
    created = parse_created_at_range(window.query())
    assert to_ms(T0) in created
    assert to_ms(T0 + timedelta(seconds=1)) not in created


def test_to_ms_truncates_like_auth0():
    assert iso_ms(to_ms(T0 + timedelta(microseconds=1999))) == "2026-11-26T03:00:00.001Z"


def test_split_parts_are_adjacent_and_cover_the_window():
    window = Window(1000, 1007)
    parts = window.split(3)
    assert parts[0].start_ms == 1000
    assert parts[-1].end_ms == 1007
    assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(parts))
    assert Window(5, 7).split(9) == [Window(5, 6), Window(6, 7)]  # one part per millisecond
    with pytest.raises(ValueError):
        Window(5, 6).split(2)


def test_an_empty_window_is_refused():
    with pytest.raises(ValueError):
        Window(5, 5)


def test_listing_splits_until_every_search_fits_and_finds_each_user_once():
    moments = [T0 + timedelta(seconds=i * 1.3) for i in range(2600)]
    users = users_at(moments)
    search = InMemoryUserSearch(users)

    found = [
        u
        for _, part in list_users(search, Window.between(T0, T0 + timedelta(hours=1)))
        for u in part
    ]

    assert Counter(u["user_id"] for u in found) == Counter(u["user_id"] for u in users)


def test_users_sharing_the_split_millisecond_are_listed_once():
    window = Window.between(T0, T0 + timedelta(hours=1))
    edge = window.split(2)[1].start
    users = users_at([T0 + timedelta(seconds=i * 3) for i in range(1100)])
    users += users_at([edge] * 40, prefix="edge")
    found = [
        u["user_id"] for _, part in list_users(InMemoryUserSearch(users), window) for u in part
    ]
    assert len(found) == len(set(found)) == 1140


def test_a_window_that_fits_costs_one_request_per_page():
    users = users_at([T0 + timedelta(seconds=i) for i in range(250)])
    search = InMemoryUserSearch(users)
    list(list_users(search, Window.between(T0, T0 + timedelta(hours=1))))
    assert [page for _, page, _ in search.calls] == [0, 1, 2]


def test_a_thousand_users_in_one_millisecond_cannot_be_listed():
    users = users_at([T0] * 1000)
    with pytest.raises(WindowTooDense):
        list(list_users(InMemoryUserSearch(users), Window.between(T0, T0 + timedelta(minutes=1))))


def test_the_standin_parses_every_bound_kind():
    assert parse_created_at_range("created_at:[* TO *]").low is None
    r = parse_created_at_range('created_at:{"2026-11-26T03:00:00.000Z" TO 2026-11-27]')
    assert r.low == parse_ms("2026-11-26T03:00:00.000Z")
    assert not r.low_inclusive
    assert r.high_inclusive


def test_a_seed_date_without_a_zone_is_utc():
    from localdev.auth0.directory import complete_user

    user = complete_user({"created_at": "2026-11-26T03:00:00", "connection": "github"})
    assert user["created_at"] == "2026-11-26T03:00:00.000Z"
    assert user["identities"][0]["connection"] == "github"
    assert user["user_id"].startswith("auth0|")
