"""Authenticated deliveries the pipeline could not use, kept for operators with their cause.

Auth0 counts every non-2xx answer toward disabling a stream, and retrying a
malformed event cannot fix it, so such a delivery is answered 2xx and kept
here instead of being dropped: one row per distinct body in the failures
table (FAILURES_TABLE, beside the processor's records, which live in
partitions `f..`), kind `event-stream-rejected`.

- PartitionKey `"r" + id[4:6]`, RowKey `id`, with `id = "evr_" +
  sha256(body)[:32]`: Auth0 re-sending the same delivery rewrites one row.
- columns: `kind`, `rejection_id`, `cause` (never quotes the body),
  `received_at`, `size`, `body` (the delivery as UTF-8 text, first
  `MAX_KEPT_CHARS` characters, `body_truncated` when cut; undecodable bytes
  replaced), and `tenant_id` / `user_id` / `event_type` when they could be read,
  so an erasure of the user also removes its rejected deliveries.

The body holds personal data, so rows are kept `KEPT_RETENTION` (30 days):
keeping a new row prunes the expired ones, at most once an hour per process;
`prune_expired` does it on demand. docs/privacy.md lists it with the rest.
Operators list them with `python -m ops events kept`.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import columns, keys
from shared.tablestore import Entity, KeyRange, TableStore

KIND = "event-stream-rejected"
REJECTION_PARTITIONS = KeyRange("r", "s")
MAX_KEPT_CHARS = 64 * 1024
KEPT_RETENTION = timedelta(days=30)
PRUNE_INTERVAL_SECONDS = 3600.0


@dataclass(frozen=True)
class RejectedDelivery:
    """One kept delivery, as operators read it."""

    rejection_id: str
    cause: str
    received_at: datetime
    size: int
    body: str
    body_truncated: bool
    event_type: str | None
    user_id: str | None
    tenant_id: str | None

    def row(self) -> dict[str, Any]:
        """A JSON-ready row (the body included: it is what operators need to act)."""
        return {
            "rejection_id": self.rejection_id,
            "kind": KIND,
            "cause": self.cause,
            "received_at": keys.iso(self.received_at),
            "size": self.size,
            "event_type": self.event_type,
            "user_id": self.user_id,
            "body_truncated": self.body_truncated,
            "body": self.body,
        }


def rejection_id(body: bytes) -> str:
    """`"evr_" + sha256(body)[:32]`: the same delivery always gets the same id."""
    return "evr_" + hashlib.sha256(body).hexdigest()[:32]


class RejectionLog:
    """Keep, list and erase rejected Event Streams deliveries in a `TableStore`."""

    def __init__(
        self,
        store: TableStore,
        tenant_id: str | None,
        retention: timedelta = KEPT_RETENTION,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._tenant_id = tenant_id
        self._retention = retention
        self._monotonic = monotonic
        self._last_prune: float | None = None

    def keep(self, body: bytes, cause: str, received_at: datetime) -> str:
        """Store the delivery with its cause; returns its `rejection_id`."""
        identifier = rejection_id(body)
        text = body.decode("utf-8", "replace")
        entity: Entity = {
            "PartitionKey": "r" + identifier[4:6],
            "RowKey": identifier,
            "kind": KIND,
            "rejection_id": identifier,
            "cause": cause,
            "received_at": keys.iso(received_at),
            "size": len(body),
            "body_truncated": len(text) > MAX_KEPT_CHARS,
        }
        columns.put_text(entity, "body", text[:MAX_KEPT_CHARS])
        event_type, user_id = _best_effort_ids(text)
        columns.put_text(entity, "event_type", event_type)
        columns.put_text(entity, "user_id", user_id)
        columns.put_text(entity, "tenant_id", self._tenant_id if user_id else None)
        self._store.upsert(entity)
        self._prune_now_and_then(received_at)
        return identifier

    def prune_expired(self, now: datetime) -> int:
        """Delete the rows received more than the retention before `now`; returns how many."""
        cutoff = keys.iso(now - self._retention)
        expired = [
            (str(entity["PartitionKey"]), str(entity["RowKey"]))
            for entity in self._store.query(REJECTION_PARTITIONS)
            if str(entity["received_at"]) < cutoff  # fixed-width ISO text sorts in time order
        ]
        for partition, row in expired:
            self._store.delete(partition, row)
        return len(expired)

    def _prune_now_and_then(self, now: datetime) -> None:
        # Retention is enforced where rows are made: at most once per PRUNE_INTERVAL_SECONDS
        # per process, a scan of the rejection partitions only.
        moment = self._monotonic()
        if self._last_prune is not None and moment - self._last_prune < PRUNE_INTERVAL_SECONDS:
            return
        self._last_prune = moment
        self.prune_expired(now)

    def iter_all(self) -> Iterator[RejectedDelivery]:
        """Every kept delivery (a scan of the rejection partitions)."""
        return map(_from_entity, self._store.query(REJECTION_PARTITIONS))

    def newest(self, limit: int) -> list[RejectedDelivery]:
        """The `limit` most recently kept deliveries, newest first (`ops events kept`)."""
        return heapq.nlargest(limit, self.iter_all(), key=lambda kept: kept.received_at)

    def erase_user(self, tenant_id: str, user_id: str) -> int:
        """Delete the kept deliveries naming this user (an erasure's `UserRecords`)."""
        mine = [
            (str(entity["PartitionKey"]), str(entity["RowKey"]))
            for entity in self._store.query(REJECTION_PARTITIONS)
            if columns.get_text(entity, "user_id") == user_id
            and columns.get_text(entity, "tenant_id") == tenant_id
        ]
        for partition, row in mine:
            self._store.delete(partition, row)
        return len(mine)


def _best_effort_ids(text: str) -> tuple[str | None, str | None]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(document, dict):
        return None, None
    data = document.get("data")
    user = data.get("object") if isinstance(data, dict) else None
    user_id = user.get("user_id") if isinstance(user, dict) else None
    return _text(document.get("type")), _text(user_id)


def _text(value: object) -> str | None:
    """`value` if it is non-empty text a table can store (no lone surrogates), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _from_entity(entity: Entity) -> RejectedDelivery:
    return RejectedDelivery(
        rejection_id=str(entity["rejection_id"]),
        cause=str(entity["cause"]),
        received_at=datetime.fromisoformat(str(entity["received_at"])),
        size=int(entity["size"]),
        body=columns.get_text(entity, "body") or "",
        body_truncated=bool(entity.get("body_truncated")),
        event_type=columns.get_text(entity, "event_type"),
        user_id=columns.get_text(entity, "user_id"),
        tenant_id=columns.get_text(entity, "tenant_id"),
    )
