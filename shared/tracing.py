"""W3C trace context through the pipeline, and where its spans go.

Ingest continues the caller's `traceparent` (the Auth0 Action sends one) or
starts a trace, and puts the publish span's `traceparent` on the message (as
the `traceparent` and `Diagnostic-Id` application properties, the names the
Azure SDKs and the Functions host read); the processor continues that trace
and stores its `trace_id` on the row.

Spans go to up to two places:

- a JSON-lines file (LOCALDEV_TRACE_FILE, set by the local stack): one object
  per span with trace_id, span_id, parent_span_id, name, start (ISO),
  duration_ms and attributes, read by `python -m ops trace`;
- OpenTelemetry (Application Insights) when APPLICATIONINSIGHTS_CONNECTION_STRING
  is set: `configure_azure_monitor()` once per process, and each span is also
  an OpenTelemetry span with the same ids.

Attributes never hold personal data: ids, outcomes, counts and error types only.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from shared import keys

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16
Attribute = str | int | float | bool


@dataclass(frozen=True)
class TraceContext:
    """One span's place in a trace: what a `traceparent` header carries."""

    trace_id: str
    span_id: str
    flags: str = "01"  # sampled

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` value (version 00)."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    @classmethod
    def parse(cls, value: object) -> TraceContext | None:
        """A valid version-00 `traceparent`, else None (an invalid one starts a new trace)."""
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        if not isinstance(text, str):
            return None
        match = _TRACEPARENT.match(text.strip())
        if match is None or match.group(1) == _ZERO_TRACE or match.group(2) == _ZERO_SPAN:
            return None
        return cls(match.group(1), match.group(2), match.group(3))

    @classmethod
    def root(cls) -> TraceContext:
        """A new trace."""
        return cls(_random_hex(128), _random_hex(64))

    def child(self) -> TraceContext:
        """A new span in this trace."""
        return TraceContext(self.trace_id, _random_hex(64), self.flags)


def _random_hex(bits: int) -> str:
    # W3C asks for random, non-zero ids, not secret ones: `random` is several times
    # cheaper than `secrets` (no system call per id).
    return f"{random.getrandbits(bits) or 1:0{bits // 4}x}"


@dataclass
class Span:
    """A span being recorded; `set` adds attributes (ids and outcomes only)."""

    name: str
    context: TraceContext
    parent_span_id: str | None
    start: datetime
    attributes: dict[str, Attribute] = field(default_factory=dict)
    duration_ms: float = 0.0

    def set(self, **attributes: Attribute | None) -> None:
        self.attributes.update({k: v for k, v in attributes.items() if v is not None})

    def record(self) -> dict[str, Any]:
        """The JSON-lines object of this span."""
        return {
            "trace_id": self.context.trace_id,
            "span_id": self.context.span_id,
            "parent_span_id": self.parent_span_id,
            "name": self.name,
            "start": keys.iso(self.start),
            "duration_ms": self.duration_ms,
            "attributes": self.attributes,
        }


class SpanSink(Protocol):
    """Where finished spans go."""

    def export(self, span: Span) -> None: ...


class JsonLinesSink:
    """Appends one JSON line per span to a file (several processes may share it).

    The file stays open between spans (opening it per span cost a tenth of the
    ingest's CPU); it is opened again when it was deleted or replaced meanwhile.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None

    def export(self, span: Span) -> None:
        line = json.dumps(span.record(), ensure_ascii=True, separators=(",", ":")) + "\n"
        with self._lock:
            # One write() of one line to an O_APPEND descriptor: lines of concurrent
            # processes do not interleave.
            os.write(self._open(), line.encode("ascii"))

    def _open(self) -> int:
        if self._fd is not None and not self._replaced(self._fd):
            return self._fd
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def _replaced(self, fd: int) -> bool:
        try:
            here = os.stat(self.path)
        except FileNotFoundError:
            return True
        opened = os.fstat(fd)
        return (here.st_dev, here.st_ino) != (opened.st_dev, opened.st_ino)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class MemorySink:
    """Keeps spans in a list (tests)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def export(self, span: Span) -> None:
        self.spans.append(span)


class Tracer:
    """Makes spans and hands them to the sinks (none: spans are still made, for their ids).

    With `opentelemetry=True` each span is also an OpenTelemetry span, whose
    ids are the ones used, so Application Insights shows the same tree.
    """

    def __init__(self, *sinks: SpanSink, opentelemetry: bool = False) -> None:
        self._sinks = sinks
        self._opentelemetry = opentelemetry

    def span(
        self, name: str, parent: TraceContext | None, **attributes: Attribute
    ) -> contextlib.AbstractContextManager[Span]:
        """A span under `parent` (or the root of a new trace); an exception marks it failed."""
        if self._opentelemetry:
            return self._otel_traced(name, parent, attributes)
        return self._traced(name, parent, attributes, None)

    @contextlib.contextmanager
    def _traced(
        self, name: str, parent: TraceContext | None, attributes: dict[str, Attribute], otel: Any
    ) -> Iterator[Span]:
        context = _context_of(otel) or (parent.child() if parent else TraceContext.root())
        span = Span(name, context, parent.span_id if parent else None, datetime.now(UTC))
        span.attributes.update(attributes)
        started = time.perf_counter()
        try:
            yield span
        except BaseException as exc:
            span.attributes["error_type"] = type(exc).__name__
            raise
        finally:
            span.duration_ms = round((time.perf_counter() - started) * 1000, 3)
            if otel is not None:
                otel.set_attributes(span.attributes)
            self._export(span)

    @contextlib.contextmanager
    def _otel_traced(
        self, name: str, parent: TraceContext | None, attributes: dict[str, Attribute]
    ) -> Iterator[Span]:
        with (
            self._otel_span(name, parent) as otel,
            self._traced(name, parent, attributes, otel) as span,
        ):
            yield span

    def _export(self, span: Span) -> None:
        for sink in self._sinks:
            with contextlib.suppress(Exception):  # tracing never fails the work it traces
                sink.export(span)

    @contextlib.contextmanager
    def _otel_span(self, name: str, parent: TraceContext | None) -> Iterator[Any]:
        from opentelemetry import trace

        context = None
        if parent is not None:
            remote = trace.SpanContext(
                int(parent.trace_id, 16),
                int(parent.span_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(int(parent.flags, 16)),
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        tracer = trace.get_tracer("registrations")
        with tracer.start_as_current_span(name, context=context) as otel:
            yield otel


def _context_of(otel: Any) -> TraceContext | None:
    if otel is None:
        return None
    ids = otel.get_span_context()
    if not ids.is_valid:
        return None
    flags = f"{int(ids.trace_flags):02x}"
    return TraceContext(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", flags)


NO_TRACER = Tracer()
_azure_monitor_lock = threading.Lock()
_azure_monitor_configured = False


def build_tracer(trace_file: str | None, app_insights_connection: str | None) -> Tracer:
    """The process's tracer: a JSON-lines file and/or Azure Monitor, as configured."""
    sinks: list[SpanSink] = [JsonLinesSink(Path(trace_file))] if trace_file else []
    if app_insights_connection:
        _configure_azure_monitor(app_insights_connection)
    return Tracer(*sinks, opentelemetry=bool(app_insights_connection))


def _configure_azure_monitor(connection_string: str) -> None:
    # Once per process: a second call would add a second exporter.
    global _azure_monitor_configured
    with _azure_monitor_lock:
        if _azure_monitor_configured:
            return
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(connection_string=connection_string)
        _azure_monitor_configured = True
