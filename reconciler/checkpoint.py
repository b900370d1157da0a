"""Where the timer's sweep stopped, per tenant (table RECONCILE_STATE_TABLE).

One entity per tenant: PartitionKey `checkpoint`, RowKey the encoded tenant
id, column `until` (fixed-width ISO UTC). It moves only forward, and only after
every window before it was enqueued.
"""

from __future__ import annotations

from datetime import datetime

from shared import keys
from shared.tablestore import TableStore

PARTITION = "checkpoint"


class CheckpointStore:
    """Read and advance the sweep checkpoint over a `TableStore`."""

    def __init__(self, store: TableStore) -> None:
        self._store = store

    def get(self, tenant_id: str) -> datetime | None:
        """The moment before which every user was enqueued, None before the first sweep."""
        found = self._store.get(PARTITION, keys.encode_key_part(tenant_id))
        if found is None:
            return None
        return datetime.fromisoformat(str(found.entity["until"]))

    def advance(self, tenant_id: str, until: datetime) -> None:
        """Store `until` unless the stored checkpoint is already later (never moves back)."""
        current = self.get(tenant_id)
        if current is not None and current >= until:
            return
        self._store.upsert(
            {
                "PartitionKey": PARTITION,
                "RowKey": keys.encode_key_part(tenant_id),
                "until": keys.iso(until),
            }
        )
