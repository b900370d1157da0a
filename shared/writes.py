"""Idempotent, order-independent writes of registrations.

Every write is a compare-and-swap on the entity's `version` column
(`Registration.version`): insert-if-absent; on conflict read, and replace
with If-Match only when the incoming version is greater. Whatever the order
of duplicate, concurrent or replayed deliveries, the table converges to the
entity of the greatest version, and there is exactly one per (tenant, user).

Copies of one signup from several paths (`source`: the Action, first login,
Event Streams, the reconciler) are merged field by field (`merge`): a copy
never blanks a field another copy stored; between two non-null values the
newer copy's wins. The main entity remembers, in `filled_versions`, which
fields came from an older copy and its version, so the merge gives the same
row in any delivery order.

The main entity has a `revision`, +1 at each change; the time-index entity
(a full copy under time-bucket keys) copies it and is written after the main
entity with a compare-and-swap on it, so a slow writer never overwrites a
newer copy. When `created_at` changes, the old keys are named on the main
entity (`superseded_index_*`) and the old entry is replaced by a `gone`
marker at the new revision, which readers skip and a slow writer of the old
version cannot overwrite (a delete would let it bring the entry back). A
crash between the two writes is repaired by the redelivery (UNCHANGED still
writes the index). A new signup costs two requests.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from shared import keys
from shared.errors import EntityExists, ETagMismatch, StorageUnavailable
from shared.registrations import PAYLOAD_FIELDS, Registration
from shared.tablestore import Entity, StoredEntity, TableStore

MAX_CONFLICT_ROUNDS = 8
FILLED_COLUMN = "filled_versions"  # JSON {field: version of the copy it came from}
REVISION = "revision"  # +1 at every change of the main entity; the index entry copies it
GONE = "gone"  # an index entry retired because the user's created_at changed
SUPERSEDED = ("superseded_index_pk", "superseded_index_rk")


class WriteOutcome(enum.StrEnum):
    """What a write did."""

    CREATED = "created"  # no entity existed
    UPDATED = "updated"  # replaced an older version
    UNCHANGED = "unchanged"  # the same version was already stored (duplicate delivery)
    STALE = "stale"  # a newer version is stored; the incoming event was older and ignored
    MERGED = "merged"  # an older copy of the same signup filled fields the stored row lacked


@dataclass(frozen=True)
class WriteResult:
    """The outcome and what was stored before (for UPDATED / UNCHANGED / STALE)."""

    outcome: WriteOutcome
    previous: Entity | None


def put_if_newer(store: TableStore, entity: Entity, *, column: str = "version") -> WriteResult:
    """Compare-and-swap `entity` on its `column` (`version` text, or `revision` number).

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
        stored = current.entity.get(column)
        if stored is not None and entity[column] == stored:
            return WriteResult(WriteOutcome.UNCHANGED, current.entity)
        if stored is not None and entity[column] < stored:
            return WriteResult(WriteOutcome.STALE, current.entity)
        try:
            store.replace(entity, current.etag)
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


def filled_of(entity: Entity) -> dict[str, str]:
    """The `filled_versions` column of a stored entity ({} when absent)."""
    text = entity.get(FILLED_COLUMN)
    return {} if not text else dict(json.loads(str(text)))


@dataclass(frozen=True)
class Copy:
    """A registration plus the versions of the fields it took from older copies."""

    registration: Registration
    filled: dict[str, str]

    @classmethod
    def of(cls, entity: Entity) -> Copy:
        return cls(Registration.from_entity(entity), filled_of(entity))

    def field_version(self, field: str) -> str:
        return self.filled.get(field, self.registration.version)

    def to_entity(self, partition_key: str, row_key: str) -> Entity:
        entity = self.registration.to_entity(partition_key, row_key)
        if self.filled:
            entity[FILLED_COLUMN] = json.dumps(self.filled, sort_keys=True)
        return entity


def merge(a: Copy, b: Copy) -> Copy:
    """The row two copies make together (commutative, associative, idempotent).

    Another signup (a different created_at) replaces the row whole: the newer
    version wins. Copies of the same signup keep the newer copy's provenance
    and, per payload field, the non-null value of the copy with the newer
    version for that field.
    """
    winner, loser = (a, b) if a.registration.version >= b.registration.version else (b, a)
    if winner.registration.created_at != loser.registration.created_at:
        return winner
    values: dict[str, Any] = {}
    filled: dict[str, str] = {}
    for field in PAYLOAD_FIELDS:
        candidates = [
            (copy.field_version(field), getattr(copy.registration, field))
            for copy in (winner, loser)
            if getattr(copy.registration, field) is not None
        ]
        if not candidates:
            continue
        version, value = max(candidates, key=lambda candidate: candidate[0])
        values[field] = value
        if version != winner.registration.version:
            filled[field] = version
    return Copy(winner.registration.model_copy(update=values), filled)


class RegistrationWriter:
    """Writes registrations idempotently to a `TableStore`."""

    def __init__(self, store: TableStore) -> None:
        self._store = store

    def save(self, registration: Registration) -> WriteOutcome:
        """Store `registration` (merged with any copy already stored); see the module docstring.

        A new signup costs two requests: insert the entity, insert its index entry.
        """
        main = main_keys(registration)
        outcome, written, stored = self._write_main(Copy(registration, {}), main)
        if outcome is not WriteOutcome.STALE:  # a stale copy changed nothing to index
            self._write_index(written, main, stored)
        return outcome

    def _write_main(
        self, incoming: Copy, main: tuple[str, str]
    ) -> tuple[WriteOutcome, Copy, Entity]:
        """CAS the merged row into the main entity: the outcome, the row, the entity stored."""
        for _ in range(MAX_CONFLICT_ROUNDS):
            entity = {**incoming.to_entity(*main), REVISION: 1}
            try:
                self._store.insert(entity)
            except EntityExists:
                pass
            else:
                return WriteOutcome.CREATED, incoming, entity
            current = self._store.get(*main)
            if current is None:  # deleted in between: try the insert again
                continue
            stored = Copy.of(current.entity)
            merged = merge(stored, incoming)
            outcome = _outcome(incoming.registration.version, stored.registration.version)
            if merged == stored:
                return outcome, stored, current.entity
            replacement = self._replacement(merged, current.entity, main)
            try:
                self._store.replace(replacement, current.etag)
            except ETagMismatch:
                continue
            return (
                (WriteOutcome.MERGED if outcome is WriteOutcome.STALE else outcome),
                merged,
                replacement,
            )
        raise StorageUnavailable(f"lost {MAX_CONFLICT_ROUNDS} write races in a row")

    @staticmethod
    def _replacement(merged: Copy, current: Entity, main: tuple[str, str]) -> Entity:
        entity = {**merged.to_entity(*main), REVISION: revision_of(current) + 1}
        old_index = _index_of(current)
        if old_index != index_keys(merged.registration):
            entity.update(zip(SUPERSEDED, old_index, strict=True))
        elif SUPERSEDED[0] in current:  # still to clean up after a crash: keep the note
            entity.update({name: current[name] for name in SUPERSEDED})
        return entity

    def _write_index(self, written: Copy, main: tuple[str, str], stored: Entity) -> None:
        """Index the row at its revision; retire the entry of a superseded created_at.

        The retired entry is overwritten by a `gone` marker at the same revision,
        not deleted: a slower writer of the older created_at then finds a newer
        revision there and writes nothing, so it can never bring the entry back.
        """
        revision = revision_of(stored)
        index = index_keys(written.registration)
        pointer = {"main_pk": main[0], "main_rk": main[1], REVISION: revision}
        put_if_newer(self._store, {**written.to_entity(*index), **pointer}, column=REVISION)
        if SUPERSEDED[0] in stored:
            old = (str(stored[SUPERSEDED[0]]), str(stored[SUPERSEDED[1]]))
            if old != index:
                pk, rk = old
                self._store.upsert({"PartitionKey": pk, "RowKey": rk, GONE: True, **pointer})


def revision_of(entity: Entity) -> int:
    """The entity's revision (0 for rows written before revisions existed)."""
    return int(entity.get(REVISION, 0))


def _outcome(incoming_version: str, stored_version: str) -> WriteOutcome:
    if incoming_version == stored_version:
        return WriteOutcome.UNCHANGED
    return WriteOutcome.UPDATED if incoming_version > stored_version else WriteOutcome.STALE
