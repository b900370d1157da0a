"""Idempotent, order-independent writes of registrations.

Every write is a compare-and-swap on the entity's `version` column
(`Registration.version`): insert-if-absent; on conflict read, and replace
with If-Match only when the incoming version is greater. Whatever the order
of duplicate, concurrent or replayed deliveries, the table converges to the
entity of the greatest version, and there is exactly one per (tenant, user).

The time-index entity (a full copy under time-bucket keys) is written the
same way after the main entity, so a crash between the two is repaired by the
redelivery; an index entry left behind by a changed `created_at` is named on
the main entity (`superseded_index_*`) and deleted, also on redelivery.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from shared import keys
from shared.errors import EntityExists, ETagMismatch, StorageUnavailable
from shared.registrations import Registration
from shared.tablestore import Entity, StoredEntity, TableStore

MAX_CONFLICT_ROUNDS = 8


class WriteOutcome(enum.StrEnum):
    """What a write did."""

    CREATED = "created"  # no entity existed
    UPDATED = "updated"  # replaced an older version
    UNCHANGED = "unchanged"  # the same version was already stored (duplicate delivery)
    STALE = "stale"  # a newer version is stored; the incoming event was older and ignored


@dataclass(frozen=True)
class WriteResult:
    """The outcome and what was stored before (for UPDATED / UNCHANGED / STALE)."""

    outcome: WriteOutcome
    previous: Entity | None


def put_if_newer(
    store: TableStore, entity: Entity, prepare: Callable[[Entity, Entity], Entity] | None = None
) -> WriteResult:
    """Compare-and-swap `entity` on its `version` column.

    `prepare(entity, current)` may adjust the entity just before a replace.
    Lost races re-read and decide again; a bounded number of rounds, then
    `StorageUnavailable` (transient: the retry policy or the broker tries later).
    """
    for _ in range(MAX_CONFLICT_ROUNDS):
        try:
            store.insert(entity)
        except EntityExists:
            pass
        else:
            return WriteResult(WriteOutcome.CREATED, None)
        current: StoredEntity | None = store.get(entity["PartitionKey"], entity["RowKey"])
        if current is None:  # deleted in between: try the insert again
            continue
        stored_version = str(current.entity.get("version", ""))
        if entity["version"] == stored_version:
            return WriteResult(WriteOutcome.UNCHANGED, current.entity)
        if entity["version"] < stored_version:
            return WriteResult(WriteOutcome.STALE, current.entity)
        replacement = prepare(entity, current.entity) if prepare else entity
        try:
            store.replace(replacement, current.etag)
        except ETagMismatch:
            continue
        return WriteResult(WriteOutcome.UPDATED, current.entity)
    raise StorageUnavailable(f"lost {MAX_CONFLICT_ROUNDS} write races in a row")


def main_keys(registration: Registration) -> tuple[str, str]:
    """(PartitionKey, RowKey) of the registration entity."""
    return (
        keys.partition_key(registration.user_id),
        keys.row_key(registration.user_id, registration.tenant_id),
    )


def index_keys(registration: Registration) -> tuple[str, str]:
    """(PartitionKey, RowKey) of the registration's time-index entity."""
    created, user, tenant = registration.created_at, registration.user_id, registration.tenant_id
    return keys.index_partition_key(created, user), keys.index_row_key(created, user, tenant)


def _index_of(entity: Entity) -> tuple[str, str]:
    return index_keys(Registration.from_entity(entity))


class RegistrationWriter:
    """Writes registrations idempotently to a `TableStore`."""

    def __init__(self, store: TableStore) -> None:
        self._store = store

    def save(self, registration: Registration) -> WriteOutcome:
        """Store `registration` unless an equal or newer version is already there."""
        new_index = index_keys(registration)

        def supersede(entity: Entity, current: Entity) -> Entity:
            old_index = _index_of(current)
            if old_index == new_index:
                return entity
            pk, rk = old_index
            return {**entity, "superseded_index_pk": pk, "superseded_index_rk": rk}

        result = put_if_newer(
            self._store, registration.to_entity(*main_keys(registration)), supersede
        )
        if result.outcome is WriteOutcome.STALE:
            return result.outcome
        put_if_newer(self._store, {**registration.to_entity(*new_index), **_pointer(registration)})
        self._delete_superseded(result, new_index)
        return result.outcome

    def _delete_superseded(self, result: WriteResult, new_index: tuple[str, str]) -> None:
        previous = result.previous
        if previous is None:
            return
        if result.outcome is WriteOutcome.UPDATED:
            stale = _index_of(previous)
        elif "superseded_index_pk" in previous:  # a redelivery after a crash mid-update
            stale = (str(previous["superseded_index_pk"]), str(previous["superseded_index_rk"]))
        else:
            return
        if stale != new_index:
            self._store.delete(*stale)


def _pointer(registration: Registration) -> Entity:
    pk, rk = main_keys(registration)
    return {"main_pk": pk, "main_rk": rk}
