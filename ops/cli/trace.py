"""`ops trace ID`: a signup's path (Action -> ingest -> queue -> processor -> row), timed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ops.cli.context import session
from ops.cli.options import JsonFlag
from ops.cli.output import Output
from ops.errors import OpsError
from ops.traces import DEFAULT_SPAN_FILE, Span, load_spans, trace_ids_for, tree, walk
from ops.wiring import Wiring
from shared.errors import PipelineError
from shared.registrations import Registration

SHOWN_ATTRIBUTES = (
    "message_id",
    "user_id",
    "tenant_id",
    "source",
    "status",
    "delivery_count",
    "outcome",
)


def trace(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(metavar="ID", help="User, message or trace id.")],
    spans: Annotated[
        Path | None,
        typer.Option("--spans", help="Span file (default: LOCALDEV_TRACE_FILE or .localdev/...)."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """A signup's path through the local stack with timings (spans from the local span file)."""
    with session(ctx, json_output) as (wiring, output):
        path = spans or _span_file(wiring)
        recorded = load_spans(path)
        trace_ids = trace_ids_for(identifier, recorded, lambda user: _row_traces(wiring, user))
        if not trace_ids:
            raise OpsError(f"nothing recorded for {identifier!r} in {path}")
        for trace_id in trace_ids:
            roots = tree(recorded, trace_id)
            if output.json_mode:
                output.rows((span.raw for _, span in walk(roots)), ())
            else:
                _show(output, trace_id, roots, _rows_of(wiring, roots))


def _span_file(wiring: Wiring) -> Path:
    configured = wiring.settings.localdev_trace_file
    return Path(configured) if configured else DEFAULT_SPAN_FILE


def _registrations(wiring: Wiring, user_id: str) -> list[Registration]:
    # The row is a bonus beside the spans: a table that cannot be read hides only it.
    try:
        return wiring.app.registration_reader.get(user_id)
    except (OpsError, PipelineError):
        return []


def _row_traces(wiring: Wiring, user_id: str) -> list[str]:
    return [r.trace_id for r in _registrations(wiring, user_id) if r.trace_id]


def _rows_of(wiring: Wiring, roots: list[Span]) -> list[Registration]:
    users = {str(s.attributes["user_id"]) for _, s in walk(roots) if s.attributes.get("user_id")}
    trace_ids = {root.trace_id for root in roots}
    found = [r for user in sorted(users) for r in _registrations(wiring, user)]
    return [r for r in found if r.trace_id in trace_ids]


def _show(output: Output, trace_id: str, roots: list[Span], rows: list[Registration]) -> None:
    spans = [span for _, span in walk(roots)]
    origin = min(span.start for span in spans).timestamp() * 1000
    total = max(span.end_ms for span in spans) - origin
    output.say(f"trace {trace_id}: {len(spans)} spans, {total:.1f} ms")
    depth_shift = 0
    outside = roots[0].parent_span_id if roots else None
    if outside:
        output.say(f"Action (span {outside}: sent the traceparent; not in the local span file)")
        depth_shift = 1
    ends: dict[str, float] = {}
    for depth, span in walk(roots):
        ends[span.span_id] = span.end_ms
        offset = span.start.timestamp() * 1000 - origin
        queued = _queued(span, ends)
        details = "  ".join(
            f"{key}={span.attributes[key]}" for key in SHOWN_ATTRIBUTES if key in span.attributes
        )
        line = f"{span.name}  +{offset:.1f} ms  {span.duration_ms:.1f} ms{queued}  {details}"
        output.say("   " * (depth + depth_shift) + "└─ " + line.rstrip())
    deepest = max(depth for depth, _ in walk(roots)) + depth_shift + 1
    for row in rows:
        stored = row.processed_at.isoformat(timespec="milliseconds")
        output.say("   " * deepest + f"└─ row {row.tenant_id} / {row.user_id}: processed {stored}")


def _queued(span: Span, ends: dict[str, float]) -> str:
    """Time between the parent's end and this span's start: the message's wait in the queue."""
    parent_end = ends.get(span.parent_span_id or "")
    if parent_end is None:
        return ""
    wait = span.start.timestamp() * 1000 - parent_end
    return f" (queued {wait:.1f} ms)" if wait > 0 else ""
