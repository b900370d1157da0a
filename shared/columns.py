"""Encode and decode entity columns within Table Storage's limits.

A string property holds at most 64 KiB of UTF-16 (32 K UTF-16 code units).
Longer strings are split: `name` holds the first chunk, `name__2`, `name__3`...
the rest, and `name__chunks` the count. Ingest caps bodies at 64 KiB, so a
value needs at most a few chunks and an entity stays far below 255
properties and 1 MiB.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

MAX_UTF16_UNITS = 32_000  # below the 32,768-unit limit, leaving room for nothing else to matter


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = MAX_UTF16_UNITS) -> list[str]:
    """Split `text` into chunks of at most `limit` UTF-16 code units, never inside a character."""
    if len(text) * 2 <= limit:
        return [text]
    chunks: list[str] = []
    start, units = 0, 0
    for index, char in enumerate(text):
        width = _utf16_units(char)
        if units + width > limit:
            chunks.append(text[start:index])
            start, units = index, 0
        units += width
    chunks.append(text[start:])
    return chunks


def put_text(entity: dict[str, Any], name: str, text: str | None) -> None:
    """Store `text` under `name`, chunked when it is too long for one property."""
    if text is None:
        return
    chunks = split_text(text)
    entity[name] = chunks[0]
    if len(chunks) > 1:
        entity[f"{name}__chunks"] = len(chunks)
        for number, chunk in enumerate(chunks[1:], start=2):
            entity[f"{name}__{number}"] = chunk


def get_text(entity: dict[str, Any], name: str) -> str | None:
    """Reassemble a value written by `put_text`."""
    first = entity.get(name)
    if first is None:
        return None
    count = int(entity.get(f"{name}__chunks", 1))
    return str(first) + "".join(str(entity[f"{name}__{number}"]) for number in range(2, count + 1))


def put_json(entity: dict[str, Any], name: str, value: Any) -> None:
    """Store a JSON value (metadata objects) as canonical JSON text."""
    if value is None:
        return
    put_text(
        entity, name, json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    )


def get_json(entity: dict[str, Any], name: str) -> Any:
    """Read a value written by `put_json`."""
    text = get_text(entity, name)
    return None if text is None else json.loads(text)


def get_datetime(entity: dict[str, Any], name: str) -> datetime | None:
    """Read an ISO 8601 column (written by `shared.keys.iso`)."""
    value = entity.get(name)
    return None if value is None else datetime.fromisoformat(str(value))
