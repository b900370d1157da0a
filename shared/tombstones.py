"""Tombstones: the deletion time of an erased user, so late copies of its signup stay erased.

One entity per (tenant, user) in table TOMBSTONES_TABLE, holding nothing but
the deletion time (no user id, no tenant in clear):

- `subject_hash(tenant, user) = sha256(utf8(tenant) + b"\\0" + utf8(user)).hexdigest()`
- PartitionKey = `"z" + subject_hash[:2]` (256 partitions), RowKey = `subject_hash`
- columns: `deleted_at` (fixed-width UTC ISO text, `shared.keys.iso`)

A creation event is a no-op when `created_at <= deleted_at` (late duplicates,
out-of-order deliveries, replays, reconciles); a genuine re-signup has a later
`created_at` and is stored. Several deletions of one user keep the latest time.

Retention: `TOMBSTONE_RETENTION` (30 days) after the deletion, longer than any
copy of an old signup can still arrive (queue TTL 14 days, Event Streams and
Action retries within days, dead letters erased with the user, the reconciler
only sees users Auth0 still has). Enforced on read: an expired tombstone counts
as absent and is deleted when found; `prune_expired` removes the rest (a scan;
every `shared.erasure.Eraser` runs it at most once an hour).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared import keys
from shared.errors import EntityExists, ETagMismatch, StorageUnavailable
from shared.tablestore import Entity, KeyRange, TableStore

TOMBSTONE_RETENTION = timedelta(days=30)
TOMBSTONE_PARTITIONS = KeyRange("z", "{")  # "{" is the character after "z"
MAX_WRITE_ROUNDS = 8


def subject_hash(tenant_id: str, user_id: str) -> str:
    """sha256 hex of `utf8(tenant) + NUL + utf8(user)`: names a user without holding its id."""
    digest = hashlib.sha256(
        tenant_id.encode("utf-8", "surrogatepass")
        + b"\x00"
        + user_id.encode("utf-8", "surrogatepass")
    )
    return digest.hexdigest()


def tombstone_keys(tenant_id: str, user_id: str) -> tuple[str, str]:
    """(PartitionKey, RowKey) of a user's tombstone."""
    digest = subject_hash(tenant_id, user_id)
    return "z" + digest[:2], digest


class TombstoneChecker(Protocol):
    """What the processor, Event Streams and the reconciler ask before storing a signup."""

    def is_tombstoned(self, tenant_id: str, user_id: str, created_at: datetime) -> bool:
        """True when a deletion at or after `created_at` was recorded for this user."""
        ...


class TombstoneStore:
    """Record deletions and answer "was this signup erased?" over a `TableStore`."""

    def __init__(
        self,
        store: TableStore,
        retention: timedelta = TOMBSTONE_RETENTION,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._retention = retention
        self._clock = clock

    def deleted_at(self, tenant_id: str, user_id: str) -> datetime | None:
        """The latest recorded deletion of this user, None if none (or it expired)."""
        partition, row = tombstone_keys(tenant_id, user_id)
        found = self._store.get(partition, row)
        if found is None:
            return None
        moment = datetime.fromisoformat(str(found.entity["deleted_at"]))
        if self._expired(moment):
            self._store.delete(partition, row)  # retention enforced where it is noticed
            return None
        return moment

    def is_tombstoned(self, tenant_id: str, user_id: str, created_at: datetime) -> bool:
        """True when this user was deleted at or after `created_at` (the signup is erased)."""
        deleted = self.deleted_at(tenant_id, user_id)
        return deleted is not None and created_at.astimezone(UTC) <= deleted

    def record(self, tenant_id: str, user_id: str, deleted_at: datetime) -> datetime:
        """Record a deletion; keeps the later of this and any earlier one, which it returns.

        A compare-and-swap on the row, so concurrent deletions of one user
        converge on the latest time whatever their order.
        """
        partition, row = tombstone_keys(tenant_id, user_id)
        entity: Entity = {
            "PartitionKey": partition,
            "RowKey": row,
            "deleted_at": keys.iso(deleted_at),
        }
        for _ in range(MAX_WRITE_ROUNDS):
            try:
                self._store.insert(entity)
                return deleted_at.astimezone(UTC)
            except EntityExists:
                pass
            current = self._store.get(partition, row)
            if current is None:
                continue
            stored = str(current.entity["deleted_at"])
            if stored >= entity["deleted_at"]:  # fixed-width ISO text sorts in time order
                return datetime.fromisoformat(stored)
            try:
                self._store.replace(entity, current.etag)
                return deleted_at.astimezone(UTC)
            except ETagMismatch:
                continue
        raise StorageUnavailable(f"lost {MAX_WRITE_ROUNDS} tombstone write races in a row")

    def prune_expired(self) -> int:
        """Delete every tombstone past its retention (a scan); returns how many went."""
        removed = 0
        for entity in self._store.query(TOMBSTONE_PARTITIONS):
            if self._expired(datetime.fromisoformat(str(entity["deleted_at"]))):
                self._store.delete(str(entity["PartitionKey"]), str(entity["RowKey"]))
                removed += 1
        return removed

    def _expired(self, deleted_at: datetime) -> bool:
        return deleted_at + self._retention < self._clock()
