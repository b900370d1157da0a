"""Listing ahead of enqueuing: order, errors handed over, and a close that stops the listing."""

from __future__ import annotations

import itertools

import pytest

from reconciler.prefetch import Prefetch


def test_items_arrive_in_order():
    with Prefetch(iter(range(10)), depth=2) as items:
        assert list(items) == list(range(10))


def test_an_error_of_the_listing_is_raised_to_the_consumer_after_what_came_before():
    def source():
        yield 1
        raise RuntimeError("auth0 down")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="auth0 down"), Prefetch(source()) as items:
        seen.extend(items)
    assert seen == [1]


def test_closing_stops_an_endless_listing_at_most_depth_ahead():
    produced = []

    def source():
        for n in itertools.count():
            produced.append(n)
            yield n

    with Prefetch(source(), depth=2) as items:
        assert next(iter(items)) == 0
    assert len(produced) <= 5  # the one consumed, two queued, one waiting to be put, one spare
