"""W3C trace context from the Action through ingest and the queue to the row; local span file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.service import IngestRequest, IngestService
from processor.service import IncomingMessage, RegistrationProcessor
from shared.runtime import AppContext
from shared.settings import Settings
from shared.signing import SignatureVerifier
from shared.tracing import JsonLinesSink, MemorySink, TraceContext, Tracer
from tests.unit.pipeline.conftest import (
    BASE_EVENT,
    FAST_RETRY,
    SECRET,
    PipelineHarness,
    body_of,
    http_request,
    to_function_message,
)

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize(
    "value",
    [
        None, "", "garbage", INCOMING.upper(), INCOMING.replace("00-", "ff-", 1),
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
        INCOMING + "-extra", b"\xff",
    ],
)  # fmt: skip
def test_invalid_traceparents_start_a_new_trace(value: object) -> None:
    assert TraceContext.parse(value) is None


def test_a_traceparent_round_trips() -> None:
    context = TraceContext.parse(INCOMING)
    assert context is not None
    assert context.traceparent == INCOMING
    assert context.child().trace_id == context.trace_id
    assert context.child().span_id != context.span_id


class Traced:
    """The harness's in-memory parts with tracing services over one `MemorySink`."""

    def __init__(self, harness: PipelineHarness, tracer: Tracer) -> None:
        self.harness = harness
        self.ingest = IngestService(
            SignatureVerifier([SECRET]), harness.publisher, FAST_RETRY, tracer=tracer
        )
        self.processor = RegistrationProcessor(harness.writer, harness.failures, tracer=tracer)

    def post(self, headers: dict[str, str] | None = None) -> None:
        request = http_request(body_of(BASE_EVENT), headers=headers)
        answer = self.ingest.handle(
            IngestRequest(request.get_body(), dict(request.headers)), "c" * 8
        )
        assert answer.status == 202

    def deliver(self) -> None:
        published = to_function_message(self.harness.publisher.messages[-1])
        self.processor.process(
            IncomingMessage(
                body=published.get_body(),
                message_id=published.message_id or "",
                delivery_count=1,
                application_properties=published.application_properties,
            )
        )


def test_the_callers_trace_reaches_the_message_and_the_row(harness: PipelineHarness) -> None:
    sink = MemorySink()
    traced = Traced(harness, Tracer(sink))
    traced.post({"traceparent": INCOMING})
    message = harness.publisher.messages[0]
    carried = TraceContext.parse(message.application_properties["traceparent"])
    assert carried is not None
    assert message.application_properties["Diagnostic-Id"] == carried.traceparent
    assert carried.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"

    traced.deliver()
    [row] = harness.reader.get(BASE_EVENT["user"]["user_id"])
    assert row.trace_id == carried.trace_id
    assert [span.name for span in sink.spans] == ["ingest.publish", "ingest", "processor"]
    by_name = {span.name: span for span in sink.spans}
    assert by_name["ingest"].parent_span_id == "00f067aa0ba902b7"
    assert by_name["ingest.publish"].parent_span_id == by_name["ingest"].context.span_id
    assert by_name["ingest.publish"].context == carried
    assert by_name["processor"].parent_span_id == carried.span_id
    assert {s.context.trace_id for s in sink.spans} == {carried.trace_id}
    assert by_name["processor"].attributes["outcome"] == "created"
    assert by_name["ingest"].attributes["message_id"] == message.message_id


def test_without_a_traceparent_ingest_starts_a_trace(harness: PipelineHarness) -> None:
    sink = MemorySink()
    Traced(harness, Tracer(sink)).post()
    ingest = next(span for span in sink.spans if span.name == "ingest")
    assert ingest.parent_span_id is None
    carried = TraceContext.parse(
        harness.publisher.messages[0].application_properties["traceparent"]
    )
    assert carried is not None
    assert carried.trace_id == ingest.context.trace_id


def test_a_message_without_a_trace_gets_one_on_the_row(harness: PipelineHarness) -> None:
    harness.post(http_request(body_of(BASE_EVENT)))
    properties = harness.publisher.messages[0].application_properties
    properties.pop("traceparent", None)
    properties.pop("Diagnostic-Id", None)
    harness.deliver_published()
    [row] = harness.reader.get(BASE_EVENT["user"]["user_id"])
    assert row.trace_id is not None
    assert len(row.trace_id) == 32


def test_spans_go_to_the_json_lines_file_without_personal_data(
    harness: PipelineHarness, tmp_path: Path
) -> None:
    path = tmp_path / "traces" / "spans.jsonl"
    context = AppContext(Settings(LOCALDEV_TRACE_FILE=str(path)))
    traced = Traced(harness, context.tracer)
    traced.post({"traceparent": INCOMING})
    traced.deliver()
    lines = [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert set(line) == {
            "trace_id", "span_id", "parent_span_id", "name", "start", "duration_ms", "attributes",
        }  # fmt: skip
        assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    text = path.read_text(encoding="ascii")
    for personal in ("ana.silva", "Ana Silva", "203.0.113.7"):
        assert personal not in text
    assert BASE_EVENT["user"]["user_id"] in text  # user ids are allowed, and what ops trace finds


def test_a_broken_sink_never_fails_the_request(harness: PipelineHarness, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    traced = Traced(harness, Tracer(JsonLinesSink(blocker / "spans.jsonl")))  # parent is a file
    traced.post()
    assert len(harness.publisher.messages) == 1


def test_the_span_file_is_opened_again_when_it_was_removed_or_replaced(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "spans.jsonl"
    sink = JsonLinesSink(path)
    tracer = Tracer(sink)
    names = []
    for name in ("first", "after-removal", "after-replacement"):
        with tracer.span(name, None):
            names.append(name)
        if name == "first":
            path.unlink()
        elif name == "after-removal":
            moved = path.with_suffix(".old")
            path.rename(moved)
            path.write_text("")
    sink.close()
    assert [json.loads(line)["name"] for line in path.read_text().splitlines()] == [
        "after-replacement"
    ]
    assert json.loads(moved.read_text())["name"] == "after-removal"


class RecordingDeletions:
    """A `DeletionHandler` that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []

    def process(self, message: IncomingMessage) -> object:
        self.messages.append(message)
        return "erased"


def test_user_deleted_messages_go_to_the_deletion_handler(harness: PipelineHarness) -> None:
    deletions = RecordingDeletions()
    processor = RegistrationProcessor(harness.writer, harness.failures, deletions=lambda: deletions)
    body = json.dumps(
        {"type": "user.deleted", "schema_version": 1, "tenant": {"id": "acme-prod"},
         "user": {"user_id": "auth0|x"}, "deleted_at": "2026-11-26T05:00:00.000Z"}
    ).encode()  # fmt: skip
    message = IncomingMessage(body=body, message_id="del_1", delivery_count=1)
    assert processor.process(message) is None
    assert deletions.messages == [message]
    assert list(harness.reader.iter_all()) == []


def test_with_opentelemetry_each_span_is_an_otel_span_with_the_same_ids() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # what configure_azure_monitor does, with its exporter
    sink = MemorySink()
    tracer = Tracer(sink, opentelemetry=True)
    parent = TraceContext.parse(INCOMING)
    with (
        tracer.span("ingest", parent, user_id="auth0|x") as outer,
        tracer.span("ingest.publish", outer.context),
    ):
        pass
    [publish, ingest] = exporter.get_finished_spans()
    assert ingest.parent is not None
    assert publish.parent is not None
    assert ingest.attributes is not None
    assert f"{ingest.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert f"{ingest.context.span_id:016x}" == outer.context.span_id
    assert f"{ingest.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert f"{publish.parent.span_id:016x}" == outer.context.span_id
    assert ingest.attributes["user_id"] == "auth0|x"
    assert [span.context for span in sink.spans] == [
        TraceContext(outer.context.trace_id, f"{publish.context.span_id:016x}"),
        outer.context,
    ]
