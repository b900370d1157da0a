"""The last processing error per Service Bus message id (table FAILURES_TABLE).

The processor records a `ProcessingFailure` before it lets a delivery fail,
so an operator looking at a dead-lettered message (`ops dlq list`) sees the
real cause, not only `MaxDeliveryCountExceeded`. Keyed by message id:
`failure_partition_key` / `failure_row_key` in `shared.keys`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared import columns, keys
from shared.tablestore import Entity, KeyRange, TableStore

FAILURE_PARTITIONS = KeyRange("f", "g")
MAX_ERROR_MESSAGE = 2000


class ProcessingFailure(BaseModel):
    """Why a delivery failed. `error_message` never carries personal data."""

    model_config = ConfigDict(frozen=True)

    message_id: str
    user_id: str | None = None  # None when the body could not be parsed
    tenant_id: str | None = None
    delivery_count: int
    error_type: str
    error_message: str
    permanent: bool
    correlation_id: str
    failed_at: datetime

    def to_entity(self) -> Entity:
        entity: Entity = {
            "PartitionKey": keys.failure_partition_key(self.message_id),
            "RowKey": keys.failure_row_key(self.message_id),
            "delivery_count": self.delivery_count,
            "error_type": self.error_type,
            "error_message": self.error_message[:MAX_ERROR_MESSAGE],
            "permanent": self.permanent,
            "correlation_id": self.correlation_id,
            "failed_at": keys.iso(self.failed_at),
        }
        for name in ("message_id", "user_id", "tenant_id"):
            columns.put_text(entity, name, getattr(self, name))
        return entity

    @classmethod
    def from_entity(cls, entity: Entity) -> ProcessingFailure:
        return cls(
            message_id=columns.get_text(entity, "message_id") or "",
            user_id=columns.get_text(entity, "user_id"),
            tenant_id=columns.get_text(entity, "tenant_id"),
            delivery_count=int(entity["delivery_count"]),
            error_type=str(entity["error_type"]),
            error_message=str(entity["error_message"]),
            permanent=bool(entity["permanent"]),
            correlation_id=str(entity["correlation_id"]),
            failed_at=datetime.fromisoformat(str(entity["failed_at"])),
        )


class FailureLog:
    """Record and look up the last failure of each message."""

    def __init__(self, store: TableStore) -> None:
        self._store = store

    def record(self, failure: ProcessingFailure) -> None:
        """Store `failure`, replacing any earlier one for the same message id."""
        self._store.upsert(failure.to_entity())

    def get(self, message_id: str) -> ProcessingFailure | None:
        """The last failure recorded for `message_id`, if any (one point GET)."""
        found = self._store.get(
            keys.failure_partition_key(message_id), keys.failure_row_key(message_id)
        )
        return None if found is None else ProcessingFailure.from_entity(found.entity)

    def clear(self, message_id: str) -> None:
        """Forget the failure of a message that was processed after all."""
        self._store.delete(keys.failure_partition_key(message_id), keys.failure_row_key(message_id))

    def iter_all(self) -> Iterator[ProcessingFailure]:
        """Every recorded failure (a scan of the failures table)."""
        return map(ProcessingFailure.from_entity, self._store.query(FAILURE_PARTITIONS))
