"""The audit log of replays and purges: who, when, which messages, counts, outcome.

Stored in Table Storage (`AUDIT_TABLE`, default `opsaudit`):

- one summary entity per action in partition `action`, RowKey
  `<inverted microseconds>_<action id>`, so the natural key order is newest
  first and `audit list --limit N` reads N entities, never the whole table;
- the handled messages in partition `items_<action id>`, RowKey = chunk
  number, at most ITEMS_PER_ENTITY per entity (a string property holds at
  most 32 K characters). Chunks are written as each batch settles, so an
  action killed midway still shows what it had done, and its summary stays
  `running`.

`ops audit list` shows this table beside APP_AUDIT_TABLE (default
`apperasures`), where the app records the erasures it performs itself, in the
same summary format (`shared.audit_rows`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared import audit_rows
from shared.audit_rows import ENTITY_COLUMNS, SUMMARY_COLUMNS, summary_row_key

ITEMS_PER_ENTITY = 100


@dataclass
class AuditEntry:
    """One replay or purge, as recorded."""

    action_id: str
    action: str
    operator: str
    queue: str
    selection: str
    started_at: datetime
    selected: int
    outcome: str = "running"
    finished_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    chunks: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def row_key(self) -> str:
        """Inverted start time first, so ascending key order is newest first."""
        return summary_row_key(self.started_at, self.action_id)

    @property
    def message_ids(self) -> list[str]:
        """The message ids of every item handled, in order."""
        return [str(item.get("message_id")) for item in self.items]

    def row(self) -> dict[str, Any]:
        """The `audit list` row: the summary columns, then the handled messages."""
        return {name: getattr(self, name) for name in (*SUMMARY_COLUMNS, "message_ids", "items")}


class AuditStore(Protocol):
    """Where audit entries live (Table Storage in production, memory in unit tests)."""

    def save(self, entry: AuditEntry) -> None:
        """Insert or replace the summary of an action."""
        ...

    def add_items(self, action_id: str, chunk: int, items: Sequence[Mapping[str, Any]]) -> None:
        """Store one chunk (<= ITEMS_PER_ENTITY) of handled messages of an action."""
        ...

    def recent(self, limit: int) -> list[AuditEntry]:
        """The newest `limit` actions, newest first, with their items."""
        ...


def newest(stores: Sequence[AuditStore], limit: int) -> list[AuditEntry]:
    """The newest `limit` entries of several stores (operators' and the app's), newest first."""
    entries = [entry for store in stores for entry in store.recent(limit)]
    return sorted(entries, key=lambda entry: entry.started_at, reverse=True)[:limit]


class AuditTrail:
    """Records one action at a time into an AuditStore."""

    def __init__(
        self,
        store: AuditStore,
        operator: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.operator = operator
        self._now = now

    def begin(self, action: str, queue: str, selection: str, selected: int) -> AuditEntry:
        """Record the start of an action before it touches anything."""
        started = self._now()
        entry = AuditEntry(
            action_id=f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
            action=action,
            operator=self.operator,
            queue=queue,
            selection=selection,
            started_at=started,
            selected=selected,
        )
        self.store.save(entry)
        return entry

    def record(self, entry: AuditEntry, items: Sequence[Mapping[str, Any]]) -> None:
        """Append the messages handled by one batch."""
        for start in range(0, len(items), ITEMS_PER_ENTITY):
            chunk = list(items[start : start + ITEMS_PER_ENTITY])
            self.store.add_items(entry.action_id, entry.chunks, chunk)
            entry.chunks += 1
            entry.items.extend(dict(item) for item in chunk)

    def finish(
        self, entry: AuditEntry, outcome: str, counts: Mapping[str, int], error: str | None = None
    ) -> None:
        """Record how the action ended."""
        entry.outcome = outcome
        entry.counts = dict(counts)
        entry.error = error
        entry.finished_at = self._now()
        self.store.save(entry)


def summary_entity(entry: AuditEntry) -> dict[str, Any]:
    """The Table entity for an action's summary."""
    columns = {name: getattr(entry, name) for name in ENTITY_COLUMNS}
    return audit_rows.summary_entity(entry.started_at, columns)


def entry_from_entity(entity: Mapping[str, Any]) -> AuditEntry:
    """The AuditEntry of a summary entity (items are loaded separately)."""
    return AuditEntry(
        action_id=str(entity["action_id"]),
        action=str(entity["action"]),
        operator=str(entity["operator"]),
        queue=str(entity.get("queue") or ""),
        selection=str(entity.get("selection") or ""),
        started_at=_as_utc(entity["started_at"]),
        finished_at=_as_utc(entity["finished_at"]) if entity.get("finished_at") else None,
        selected=int(entity.get("selected") or 0),
        outcome=str(entity.get("outcome") or ""),
        counts=json.loads(entity.get("counts") or "{}"),
        error=entity.get("error"),
        chunks=int(entity.get("chunks") or 0),
    )


def items_partition(action_id: str) -> str:
    """The partition holding an action's handled messages."""
    return f"items_{action_id}"


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))
