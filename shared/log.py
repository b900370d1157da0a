"""Structured JSON log lines without personal data.

`log_outcome` accepts only the fields in `ALLOWED_FIELDS` (ids, counts,
outcomes, error types): an email, phone number or name cannot be logged
through it by accident, a wrong field name fails loudly in tests.
"""

from __future__ import annotations

import json
import logging
from typing import Any

ALLOWED_FIELDS = frozenset(
    {
        "message_id",
        "delivery_count",
        "correlation_id",
        "outcome",
        "duration_ms",
        "status",
        "error_type",
        "error",
        "attempt",
        "schema_version",
        "field",
        "setting",
        "table",
    }
)


def log_outcome(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Write one JSON line: `{"event": ..., <fields>}`."""
    unknown = set(fields) - ALLOWED_FIELDS
    if unknown:
        raise ValueError(f"not loggable (personal data guard): {sorted(unknown)}")
    record = {"event": event, **{key: value for key, value in fields.items() if value is not None}}
    logger.log(level, json.dumps(record, default=str, ensure_ascii=False))
