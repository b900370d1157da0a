"""The reconciler through the real auth0-python SDK against the Auth0 stand-in."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import timedelta

import pytest

from localdev.auth0.directory import format_ms
from reconciler.listing import list_users
from reconciler.management import ListingRejected, build_user_search
from reconciler.throttle import RequestCeiling
from reconciler.windows import Window
from shared.errors import QueueUnavailable
from shared.publisher import InMemoryPublisher, OutgoingMessage
from tests.integration.auth0.standin import HOUR, running_standin, seed_users, standin_settings

pytestmark = pytest.mark.timeout(120)


def test_an_hour_of_2500_users_is_reconciled_completely(rig_factory):
    with running_standin() as server:
        users = seed_users(server, 2500, HOUR, timedelta(hours=1))
        rig = rig_factory(server)

        report = rig.reconciler.run(HOUR, HOUR + timedelta(hours=1))

        assert report.scanned == report.enqueued == 2500
        assert sorted(rig.enqueued_user_ids()) == sorted(u["user_id"] for u in users)
        assert report.windows >= 3  # one search returns at most 1000: the hour was split
        assert report.complete
        # Every page asked for stayed inside the first 1000 results (else the stand-in 400s).
        assert server.state.stats.search_requests == rig.search.requests


def test_40_users_in_one_millisecond_at_a_split_edge_are_found_once_each(rig_factory):
    with running_standin() as server:
        seed_users(server, 1200, HOUR, timedelta(hours=1))
        edge = Window.between(HOUR, HOUR + timedelta(hours=1)).split(2)[1].start
        same_ms = [
            server.state.directory.add(
                {"user_id": f"auth0|edge{index:02d}", "created_at": format_ms(edge)}
            )
            for index in range(40)
        ]
        rig = rig_factory(server)

        report = rig.reconciler.run(HOUR, HOUR + timedelta(hours=1))

        counts = Counter(rig.enqueued_user_ids())
        assert all(counts[user["user_id"]] == 1 for user in same_ms)
        assert report.enqueued == len(counts) == 1240
        assert report.windows == 2  # the split edge is exactly the shared millisecond


def test_a_429_storm_slows_it_down_and_loses_nothing(rig_factory):
    # Given a tenant allowing 1 request/s, no burst, and a reconciler whose ceiling is far above
    with running_standin(rate_per_second=1.0, rate_limit=1) as server:
        users = seed_users(server, 700, HOUR, timedelta(minutes=10))
        rig = rig_factory(server, max_rps=50.0)

        report = rig.reconciler.run(HOUR, HOUR + timedelta(minutes=10))

        assert server.state.stats.throttled > 0
        assert rig.search.throttled == server.state.stats.throttled
        assert sorted(rig.enqueued_user_ids()) == sorted(u["user_id"] for u in users)
        assert report.enqueued == 700


def test_the_ceiling_keeps_it_under_the_tenant_limit(rig_factory):
    with running_standin(rate_per_second=2.0, rate_limit=2) as server:
        seed_users(server, 450, HOUR, timedelta(minutes=10))
        rig = rig_factory(server, max_rps=1.5)

        report = rig.reconciler.run(HOUR, HOUR + timedelta(minutes=10))

        assert report.enqueued == 450
        assert server.state.stats.throttled == 0
        assert server.state.stats.tokens_issued == 1  # the token is kept until it expires


def test_users_not_yet_searchable_are_not_reported_missing_but_found_later(rig_factory):
    with running_standin(search_delay=3.0) as server:
        users = seed_users(server, 30, HOUR, timedelta(minutes=1))
        rig = rig_factory(server)
        assert rig.reconciler.run(HOUR, HOUR + timedelta(minutes=1)).scanned == 0
        time.sleep(3.1)
        assert rig.reconciler.run(HOUR, HOUR + timedelta(minutes=1)).enqueued == len(users)


def test_listing_covers_the_window_with_adjacent_parts(rig_factory):
    with running_standin() as server:
        seed_users(server, 2100, HOUR, timedelta(hours=1))
        rig = rig_factory(server)
        parts = [
            part
            for part, _ in list_users(rig.search, Window.between(HOUR, HOUR + timedelta(hours=1)))
        ]
        assert parts[0].start == HOUR
        assert parts[-1].end == HOUR + timedelta(hours=1)
        assert all(a.end_ms == b.start_ms for a, b in itertools.pairwise(parts))


class CrashingPublisher(InMemoryPublisher):
    """Takes `survive` messages, then fails like a process that died mid-run."""

    def __init__(self, survive: int) -> None:
        super().__init__()
        self.survive = survive

    def publish(self, message: OutgoingMessage) -> None:
        if len(self.messages) >= self.survive:
            raise QueueUnavailable("the process died here")
        super().publish(message)


def test_refused_credentials_fail_the_run_at_once_with_the_reason():
    with running_standin() as server:
        settings = standin_settings(server, AUTH0_CLIENT_SECRET="not-the-secret")
        search = build_user_search(settings, RequestCeiling(100.0))
        try:
            with pytest.raises(ListingRejected, match="token request refused \\(401\\)"):
                search.search("created_at:[* TO *]", 0, 100)
        finally:
            search.close()
        assert server.state.stats.api_requests == 0


@pytest.mark.parametrize(
    "secret", ["", "##AUTH0_CLIENT_SECRET##", "changeme", "@Microsoft.KeyVault(SecretUri=x)"]
)
def test_an_unusable_client_secret_is_refused_before_anything_is_sent(secret):
    with running_standin() as server:
        settings = standin_settings(server, AUTH0_CLIENT_SECRET=secret)
        with pytest.raises(ListingRejected, match="AUTH0_CLIENT_SECRET"):
            build_user_search(settings, RequestCeiling(100.0))
        assert server.state.stats.api_requests == 0
