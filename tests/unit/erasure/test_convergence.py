"""Property: any interleaving of duplicated, reordered creations and deletions converges.

The right state, per user: with D the latest deletion delivered, the stored
signup is the newest one created after D (none if there is none), listed
exactly once by the time index; when none is, no row of the table names the
user at all; the tombstone holds D.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.keys import encode_key_part
from shared.tablestore import KeyRange
from tests.unit.erasure.memory import T0, TENANT, ErasurePipeline, creation_body, deletion_body

USERS = ("auth0|ana", "google-oauth2|1029")
SOURCES = ("action", "event-stream", "first-login", "reconcile")

creations = st.tuples(
    st.just("created"),
    st.sampled_from(USERS),
    st.sampled_from([T0 + timedelta(hours=h) for h in range(4)]),
    st.sampled_from(SOURCES),
)
deletions = st.tuples(
    st.just("deleted"),
    st.sampled_from(USERS),
    st.sampled_from([T0 + timedelta(hours=1), T0 + timedelta(hours=2)]),
    st.just("event-stream"),
)
Operation = tuple[str, str, datetime, str]


def expected_created_at(operations: list[Operation], user: str) -> datetime | None:
    deleted = [moment for kind, who, moment, _ in operations if kind == "deleted" and who == user]
    latest_deletion = max(deleted, default=None)
    alive = [
        moment
        for kind, who, moment, _ in operations
        if kind == "created" and who == user
        and (latest_deletion is None or moment > latest_deletion)
    ]  # fmt: skip
    return max(alive, default=None)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(creations, deletions), min_size=1, max_size=14))
def test_any_interleaving_converges(operations: list[Operation]) -> None:
    pipeline = ErasurePipeline()
    for kind, user, moment, source in operations:
        body = creation_body(user, moment, source) if kind == "created" else None
        pipeline.deliver(body or deletion_body(user, moment))

    listed = list(pipeline.reader.list())
    everything = list(pipeline.registrations.query(KeyRange("", "~")))
    for user in USERS:
        want = expected_created_at(operations, user)
        assert [r.created_at for r in pipeline.reader.get(user)] == ([want] if want else [])
        assert [r.created_at for r in listed if r.user_id == user] == ([want] if want else [])
        if want is None:  # erased (or never stored): no row of any kind names the user
            key = encode_key_part(user)
            assert [e["RowKey"] for e in everything if key in str(e["RowKey"])] == []
        deleted = [m for k, u, m, _ in operations if k == "deleted" and u == user]
        assert pipeline.tombstones.deleted_at(TENANT, user) == max(deleted, default=None)
    assert list(pipeline.failures.iter_all()) == []
