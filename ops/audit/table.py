"""The audit log in Azure Table Storage (azure-data-tables)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import suppress
from itertools import islice
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from ops.audit.record import AuditEntry, entry_from_entity, items_partition, summary_entity
from ops.errors import sdk_errors
from shared.audit_rows import ACTION_PARTITION


class TableAuditStore:
    """AuditStore on one table; the table is created on the first write."""

    def __init__(self, table: TableClient) -> None:
        self.table = table
        self._created = False

    def save(self, entry: AuditEntry) -> None:
        """Insert or replace the summary of an action."""
        with sdk_errors(self.table.table_name):
            self._ensure_table()
            self.table.upsert_entity(summary_entity(entry), mode=UpdateMode.REPLACE)

    def add_items(self, action_id: str, chunk: int, items: Sequence[Mapping[str, Any]]) -> None:
        """Store one chunk of handled messages."""
        entity = {
            "PartitionKey": items_partition(action_id),
            "RowKey": f"{chunk:06d}",
            "items": json.dumps(list(items), sort_keys=True, default=str),
        }
        with sdk_errors(self.table.table_name):
            self._ensure_table()
            self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def recent(self, limit: int) -> list[AuditEntry]:
        """The newest `limit` actions with their items, reading only what is shown."""
        with sdk_errors(self.table.table_name):
            try:
                pages = self.table.query_entities(
                    "PartitionKey eq @pk",
                    parameters={"pk": ACTION_PARTITION},
                    results_per_page=min(max(limit, 1), 1000),
                )
                entries = [entry_from_entity(e) for e in islice(pages, limit)]
                for entry in entries:
                    entry.items = self._items(entry.action_id)
            except ResourceNotFoundError:
                return []
        return entries

    def _items(self, action_id: str) -> list[dict[str, Any]]:
        chunks = self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": items_partition(action_id)}
        )
        items: list[dict[str, Any]] = []
        for chunk in sorted(chunks, key=lambda e: str(e["RowKey"])):
            items.extend(json.loads(chunk["items"]))
        return items

    def _ensure_table(self) -> None:
        if self._created:
            return
        with suppress(ResourceExistsError):
            self.table.create_table()
        self._created = True
