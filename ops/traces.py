"""`ops trace ID`: a signup's path through the local stack, from the span file.

Ingest and the processor append one JSON object per span to the span file
(LOCALDEV_TRACE_FILE, default `.localdev/traces/spans.jsonl`):
`trace_id`, `span_id`, `parent_span_id`, `name`, `start` (ISO 8601),
`duration_ms` and `attributes` (message_id, user_id, ...; never emails,
phones or names). An ID is tried as a trace id, then as a message id, then
as a user id: the registration row's `trace_id`, and spans naming the user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.errors import OpsError

DEFAULT_SPAN_FILE = Path(".localdev/traces/spans.jsonl")


@dataclass
class Span:
    """One recorded span, with its children once a tree is built."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start: datetime
    duration_ms: float
    attributes: dict[str, Any]
    raw: dict[str, Any]
    children: list[Span] = field(default_factory=list)

    @property
    def end_ms(self) -> float:
        """The end, in milliseconds since the epoch."""
        return self.start.timestamp() * 1000 + self.duration_ms


def load_spans(path: Path) -> list[Span]:
    """Every readable span in the file; a line that is not a span is skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise OpsError(
            f"no span file at {path}: start the local stack (spans are written only locally)"
        ) from None
    except OSError as exc:
        raise OpsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return [span for span in map(_parse, lines) if span is not None]


def _parse(line: str) -> Span | None:
    # A line cut short by a killed writer must not hide the others.
    try:
        raw = json.loads(line)
        start = datetime.fromisoformat(str(raw["start"]).replace("Z", "+00:00"))
        return Span(
            trace_id=str(raw["trace_id"]),
            span_id=str(raw["span_id"]),
            parent_span_id=raw.get("parent_span_id") or None,
            name=str(raw["name"]),
            start=start,
            duration_ms=float(raw.get("duration_ms") or 0.0),
            attributes=dict(raw.get("attributes") or {}),
            raw=raw,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def trace_ids_for(
    identifier: str, spans: list[Span], row_trace_ids: Callable[[str], Iterable[str]]
) -> list[str]:
    """The traces an ID names: as a trace id, a message id, or a user id (row first)."""
    if any(span.trace_id == identifier for span in spans):
        return [identifier]
    by_message = _traces_where(spans, "message_id", identifier)
    if by_message:
        return by_message
    from_rows = [t for t in row_trace_ids(identifier) if any(s.trace_id == t for s in spans)]
    return list(dict.fromkeys(from_rows + _traces_where(spans, "user_id", identifier)))


def _traces_where(spans: list[Span], attribute: str, value: str) -> list[str]:
    ordered = sorted(spans, key=lambda s: s.start)
    return list(dict.fromkeys(s.trace_id for s in ordered if s.attributes.get(attribute) == value))


def tree(spans: Iterable[Span], trace_id: str) -> list[Span]:
    """The roots of one trace (spans whose parent is not recorded), children nested, by start."""
    mine = sorted((s for s in spans if s.trace_id == trace_id), key=lambda s: s.start)
    for span in mine:
        span.children = []
    by_id = {span.span_id: span for span in mine}
    roots = []
    for span in mine:
        parent = by_id.get(span.parent_span_id or "")
        if parent is None or parent is span:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots


def walk(roots: list[Span], depth: int = 0) -> Iterator[tuple[int, Span]]:
    """Every span of a tree with its depth, parents before children."""
    for span in roots:
        yield depth, span
        yield from walk(span.children, depth + 1)
