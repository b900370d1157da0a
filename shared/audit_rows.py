"""The summary row of an audited action: the one format `ops audit list` reads.

Two tables hold such rows: the operators' (AUDIT_TABLE, written by `ops`) and
the app's own (APP_AUDIT_TABLE, default `apperasures`, where the processor
records the erasures it performs). `audit list` shows both side by side, so
both writers build their rows here (the processor cannot import `ops`):

    PartitionKey  "action"
    RowKey        f"{10**19 - started_at_epoch_microseconds:020d}_{action_id}"
    action_id     a unique id (e.g. the message id)
    action        "erase", "replay", "purge", ...
    operator      who: "app:processor" (an operator's row: "entra:<upn> oid=<oid>"
                  in Azure, "local:<name>" with a connection string)
    queue         "" (or the queue the action read)
    selection     what it acted on, never personal data: "user <hash of tenant + user id>"
    started_at    when (datetime or ISO 8601 text, UTC)
    finished_at   when it ended (or null)
    selected      count: how many things it acted on
    outcome       "running", "completed", "succeeded", "failed", ...
    counts        JSON object text, e.g. {"registrations": 1, "dead_letters": 0}
    error         one line, or null
    chunks        how many item partitions it has (0: none)

The inverted start time first makes the natural key order newest first, so
`audit list --limit N` reads N entities, never the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.tablestore import Entity
from shared.tombstones import subject_hash

ACTION_PARTITION = "action"
_INVERT_FROM = 10**19  # > any epoch microsecond count for the next 250,000 years
# An action's summary as `audit list --json` shows it, in that order.
SUMMARY_COLUMNS = (
    "action_id",
    "action",
    "operator",
    "queue",
    "selection",
    "started_at",
    "finished_at",
    "outcome",
    "selected",
    "counts",
    "error",
)
# What a summary entity holds besides its keys.
ENTITY_COLUMNS = (*SUMMARY_COLUMNS, "chunks")


def summary_row_key(started_at: datetime, action_id: str) -> str:
    """Inverted start time first, so ascending key order is newest first."""
    micros = int(started_at.timestamp() * 1_000_000)
    return f"{_INVERT_FROM - micros:020d}_{action_id}"


def erased_user_selection(tenant_id: str, user_id: str) -> str:
    """How a row names an erased user: a hash of tenant and user id, never the id."""
    return "user " + subject_hash(tenant_id, user_id)[:32]


def summary_entity(started_at: datetime, columns: Mapping[str, Any]) -> Entity:
    """One action's summary as a Table entity: its keys, then `columns` (`counts` as JSON text).

    `started_at` places the row; the column of that name may hold it as a datetime
    or as ISO 8601 text. A column outside the format is a bug: ValueError.
    """
    unknown = set(columns) - set(ENTITY_COLUMNS)
    if unknown:
        raise ValueError(f"not an audit summary column: {sorted(unknown)}")
    return {
        "PartitionKey": ACTION_PARTITION,
        "RowKey": summary_row_key(started_at, str(columns["action_id"])),
        **columns,
        # A table holds no objects.
        "counts": json.dumps(columns["counts"], sort_keys=True),
    }
