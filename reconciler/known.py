"""What a run must not enqueue again, read once per run instead of once per user.

A point read per missing user (its failure record, its tombstone) costs a table
round trip each, more than the Management API ceiling leaves per user. So each
run takes one snapshot: the dead-letter queue's message ids (peeked), the
failure log's message ids (`shared.failures`, one scan of its partitions) and
the tombstones (one scan, asked through `shared.tombstones`' own rules). All
three stay small: failures and dead letters wait for an operator, tombstones
expire after 30 days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.failures import FailureLog
from shared.tablestore import InMemoryTableStore, TableStore
from shared.tombstones import TOMBSTONE_PARTITIONS, TombstoneChecker, TombstoneStore


@dataclass(frozen=True)
class KnownProblems:
    """One run's view: message ids dead-lettered or failed, and the tombstones."""

    dead_lettered: frozenset[str]
    failed: frozenset[str]
    tombstones: TombstoneChecker


class TableKnownProblems:
    """Builds `KnownProblems` from the dead-letter queue and the two tables."""

    def __init__(
        self,
        dead_letter_ids: Callable[[], set[str]],
        failures: TableStore,
        tombstones: TableStore,
    ) -> None:
        self._dead_letter_ids = dead_letter_ids
        self._failures = failures
        self._tombstones = tombstones

    def __call__(self) -> KnownProblems:
        failed = frozenset(f.message_id for f in FailureLog(self._failures).iter_all())
        snapshot = InMemoryTableStore()
        for entity in self._tombstones.query(TOMBSTONE_PARTITIONS):
            snapshot.insert(entity)
        return KnownProblems(
            dead_lettered=frozenset(self._dead_letter_ids()),
            failed=failed,
            tombstones=TombstoneStore(snapshot),
        )
