"""Tombstones: latest deletion wins, created_at <= deletion is erased, retention on read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.tablestore import InMemoryTableStore
from shared.tombstones import (
    TOMBSTONE_PARTITIONS,
    TOMBSTONE_RETENTION,
    TombstoneStore,
    subject_hash,
    tombstone_keys,
)

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_keys_hold_a_hash_never_the_ids() -> None:
    partition, row = tombstone_keys("acme-prod", "auth0|ana")
    assert row == subject_hash("acme-prod", "auth0|ana")
    assert partition == "z" + row[:2]
    assert "ana" not in partition + row
    assert len(row) == 64


def test_signups_at_or_before_the_deletion_are_tombstoned_later_ones_are_not() -> None:
    store = InMemoryTableStore()
    tombstones = TombstoneStore(store, clock=lambda: T0)
    assert not tombstones.is_tombstoned("acme", "auth0|1", T0)

    tombstones.record("acme", "auth0|1", T0)

    assert tombstones.is_tombstoned("acme", "auth0|1", T0 - timedelta(days=1))
    assert tombstones.is_tombstoned("acme", "auth0|1", T0)
    assert not tombstones.is_tombstoned("acme", "auth0|1", T0 + timedelta(milliseconds=1))
    assert not tombstones.is_tombstoned("other", "auth0|1", T0 - timedelta(days=1))
    (entity,) = store.query(TOMBSTONE_PARTITIONS)
    assert set(entity) == {"PartitionKey", "RowKey", "deleted_at"}


def test_the_latest_deletion_wins_in_any_order() -> None:
    for order in ([T0, T0 + timedelta(hours=1)], [T0 + timedelta(hours=1), T0]):
        tombstones = TombstoneStore(InMemoryTableStore(), clock=lambda: T0)
        results = [tombstones.record("acme", "u", moment) for moment in order]
        assert results[-1] == T0 + timedelta(hours=1)
        assert tombstones.deleted_at("acme", "u") == T0 + timedelta(hours=1)


def test_expired_tombstones_count_as_absent_and_are_removed() -> None:
    store = InMemoryTableStore()
    now = [T0]
    tombstones = TombstoneStore(store, clock=lambda: now[0])
    tombstones.record("acme", "old", T0)
    tombstones.record("acme", "new", T0 + timedelta(days=20))
    now[0] = T0 + TOMBSTONE_RETENTION + timedelta(seconds=1)

    assert tombstones.prune_expired() == 1
    assert len(store) == 1
    assert tombstones.is_tombstoned("acme", "new", T0)

    tombstones.record("acme", "gone", T0)  # expired on arrival: found on read and deleted
    assert not tombstones.is_tombstoned("acme", "gone", T0)
    assert len(store) == 1
