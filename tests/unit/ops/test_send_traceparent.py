"""ops send-test-event / smoke start a W3C trace per event, as the Auth0 Action does."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ops.ingest_client import HttpEventPoster, IngestAnswer, synthetic_event
from ops.signups import send_events
from ops.smoke import SmokeRun
from shared.registrations import RegistrationReader
from shared.tablestore import InMemoryTableStore
from shared.tracing import TraceContext
from tests.unit.ops.local_http import RecordingHandler, serving
from tests.unit.ops.test_ops_services import PipelineInMemory

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


class _Ingest(RecordingHandler):
    """Answers 202 (or 400 for every second request) and keeps each request's headers."""

    def do_POST(self) -> None:
        self.record()
        refused = len(self.seen) % 2 == 0
        body = b'{"title": "bad"}' if refused else b'{"id": "reg_1"}'
        self.answer(400 if refused else 202, body, {"content-type": "application/json"})


@pytest.fixture
def ingest() -> Iterator[tuple[HttpEventPoster, type[_Ingest]]]:
    with serving(_Ingest) as (port, handler):
        url = f"http://127.0.0.1:{port}/api/registrations"
        yield HttpEventPoster(url, "whsec_" + "A" * 32, "key"), handler


def test_every_post_carries_a_fresh_sampled_traceparent_and_returns_its_trace_id(
    ingest: tuple[HttpEventPoster, type[_Ingest]],
) -> None:
    poster, handler = ingest
    # When two events are sent (the second refused)
    answers = [poster.post(synthetic_event("t", f"auth0|{n}")) for n in range(2)]
    # Then each request has a version-00, sampled traceparent with a trace of its own
    headers = [seen["traceparent"] for seen in handler.seen]
    matches = [TRACEPARENT.match(value) for value in headers]
    assert all(matches), headers
    trace_ids = [m.group(1) for m in matches if m]
    assert len(set(trace_ids)) == 2
    assert all(set(t) != {"0"} for t in trace_ids)
    # And the answer names it, refused or not, so `ops trace` can find the path
    assert [a.trace_id for a in answers] == trace_ids
    assert [a.status for a in answers] == [202, 400]
    # And ingest (which continues it) reads exactly that trace
    parsed = TraceContext.parse(headers[0])
    assert parsed is not None
    assert parsed.trace_id == trace_ids[0]


def test_send_test_event_rows_carry_the_trace_id() -> None:
    class Poster:
        def post(self, event: dict[str, Any]) -> IngestAnswer:
            return IngestAnswer(202, {"id": "reg_x"}, "ab" * 16)

    rows = list(send_events(Poster(), iter([synthetic_event("t", "auth0|1")])))
    assert rows[0]["trace_id"] == "ab" * 16


def test_smoke_reports_the_trace_id_of_its_post() -> None:
    store = InMemoryTableStore()
    pipeline = PipelineInMemory(store)

    class Traced:
        def post(self, event: dict[str, Any]) -> IngestAnswer:
            return dataclasses.replace(pipeline.post(event), trace_id="cd" * 16)

    result = SmokeRun(Traced(), RegistrationReader(store), store).run(cleanup=False)
    assert result.row()["trace_id"] == "cd" * 16
