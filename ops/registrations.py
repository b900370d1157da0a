"""`registrations get|list|export`: rows from `shared.registrations.RegistrationReader`."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from ops.errors import UsageProblem
from shared.registrations import Registration

# What the human table shows; --json and exports carry every column.
TABLE_COLUMNS = (
    "tenant_id",
    "user_id",
    "email",
    "phone_number",
    "connection_name",
    "created_at",
    "received_at",
)
EXPORT_FORMATS = ("jsonl", "csv")


def registration_row(registration: Registration) -> dict[str, Any]:
    """One registration as a row: every column, times as datetimes."""
    return registration.model_dump()


def rows(registrations: Iterable[Registration]) -> Iterator[dict[str, Any]]:
    """Rows for output."""
    return map(registration_row, registrations)


def export(
    registrations: Iterable[Registration],
    export_format: str,
    out: TextIO,
    on_row: Callable[[int], None] = lambda _: None,
) -> int:
    """Write every registration as JSON lines or CSV (header first); returns the count."""
    if export_format not in EXPORT_FORMATS:
        raise UsageProblem(
            f"unknown format {export_format!r}: use one of {', '.join(EXPORT_FORMATS)}"
        )
    columns = list(Registration.model_fields)
    writer = csv.DictWriter(out, fieldnames=columns) if export_format == "csv" else None
    if writer is not None:
        writer.writeheader()
    count = 0
    for registration in registrations:
        row = registration.model_dump(mode="json")
        if writer is not None:
            writer.writerow({name: _csv_cell(row.get(name)) for name in columns})
        else:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
        on_row(1)
    return count


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    return neutralise_formula(text)


# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading `'` before a formula character."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
