"""Smoke, test events, registration export, audit chunks and output formatting, in memory."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ops.audit.record import ITEMS_PER_ENTITY, AuditTrail, entry_from_entity, summary_entity
from ops.cli.output import Output
from ops.errors import OpsError, UsageProblem
from ops.ingest_client import IngestAnswer, webhook_id_for
from ops.registrations import export
from ops.signups import load_event_file, send_events, signup_events
from ops.smoke import SMOKE_TENANT, SmokeRun, delete_registration
from processor.deletions import audit_entity
from shared import audit_rows
from shared.erasure import ErasureResult, UserDeletion
from shared.events import parse_event
from shared.ids import registration_id
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import InMemoryTableStore
from shared.writes import RegistrationWriter
from tests.unit.ops.ops_fakes import FakeClock, InMemoryAuditStore


class PipelineInMemory:
    """An EventPoster that does what ingest + processor do, into an in-memory table."""

    def __init__(self, store: InMemoryTableStore, status: int = 202) -> None:
        self.writer = RegistrationWriter(store)
        self.status = status
        self.posted: list[dict[str, Any]] = []

    def post(self, event: dict[str, Any]) -> IngestAnswer:
        self.posted.append(event)
        if self.status != 202:
            return IngestAnswer(self.status, {"title": "Unauthorized", "detail": "bad signature"})
        parsed = parse_event(json.dumps(event))
        now = datetime.now(UTC)
        message_id = registration_id(parsed.tenant_id, parsed.user_id, parsed.user.created_at)
        self.writer.save(
            Registration.from_event(
                parsed,
                message_id=message_id,
                correlation_id="c",
                received_at=now,
                processed_at=now,
                delivery_count=1,
            )
        )
        return IngestAnswer(202, {"id": message_id, "status": "accepted"})


def test_smoke_finds_the_row_and_cleanup_removes_it_and_its_index_entity():
    store = InMemoryTableStore()
    pipeline = PipelineInMemory(store)
    run = SmokeRun(pipeline, RegistrationReader(store), store, timeout_seconds=5)

    result = run.run(cleanup=True)

    [event] = pipeline.posted
    assert event["tenant"]["id"] == SMOKE_TENANT
    assert result.user_id.startswith("smoke|")
    assert event["user"]["email"].endswith("@example.invalid")
    created_at = event["user"]["created_at"]
    assert result.message_id == registration_id(SMOKE_TENANT, result.user_id, created_at)
    assert result.latency_seconds >= 0
    assert len(store) == 0  # registration and time-index entity both gone


def test_smoke_without_cleanup_leaves_the_row():
    store = InMemoryTableStore()
    result = SmokeRun(PipelineInMemory(store), RegistrationReader(store), store).run(cleanup=False)
    assert RegistrationReader(store).get(result.user_id, SMOKE_TENANT)
    assert len(store) == 2


def test_smoke_fails_clearly_when_ingest_refuses_or_nothing_arrives():
    store = InMemoryTableStore()
    refused = SmokeRun(PipelineInMemory(store, status=401), RegistrationReader(store), store)
    with pytest.raises(OpsError, match="ingest answered 401, expected 202: bad signature"):
        refused.run(cleanup=False)

    class BlackHole:
        def post(self, event: dict[str, Any]) -> IngestAnswer:
            return IngestAnswer(202, {"id": "x"})

    clock = FakeClock()
    lost = SmokeRun(
        BlackHole(), RegistrationReader(store), store, 3, 0.5, clock.monotonic, clock.sleep
    )
    with pytest.raises(OpsError, match=r"not in the table after 3s: is the processor running\?"):
        lost.run(cleanup=False)


def test_cleanup_refuses_real_tenants():
    store = InMemoryTableStore()
    pipeline = PipelineInMemory(store)
    pipeline.post(next(signup_events(1, None)))
    [row] = list(RegistrationReader(store).iter_all())
    with pytest.raises(OpsError, match="refusing"):
        delete_registration(store, row)


def test_test_events_get_unique_user_ids_unless_the_file_names_one(tmp_path):
    generated = list(signup_events(3, None))
    assert len({e["user"]["user_id"] for e in generated}) == 3
    named = tmp_path / "event.json"
    named.write_text(json.dumps({**generated[0], "tenant": {"id": "acme"}}))
    from_file = list(signup_events(2, load_event_file(named)))
    assert [e["user"]["user_id"] for e in from_file] == [generated[0]["user"]["user_id"]] * 2
    anonymous = {**generated[0], "user": {"created_at": "2026-11-26T03:00:00Z"}}
    assert len({e["user"]["user_id"] for e in signup_events(2, anonymous)}) == 2


def test_event_files_that_are_not_one_object_are_usage_problems(tmp_path):
    for content in ("[1, 2]", "{oops"):
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(UsageProblem):
            load_event_file(path)
    with pytest.raises(UsageProblem, match="cannot read"):
        load_event_file(tmp_path / "missing.json")


def test_send_events_reports_each_answer():
    store = InMemoryTableStore()
    pipeline = PipelineInMemory(store)
    rows = list(send_events(pipeline, signup_events(2, None)))
    assert [r["accepted"] for r in rows] == [True, True]
    assert [r["id"] for r in rows] == [webhook_id_for(e) for e in pipeline.posted]
    assert all(r["id"].startswith("reg_") for r in rows)
    assert webhook_id_for({"tenant": "broken"}).startswith("msg_")


def test_registration_export_as_jsonl_and_csv():
    store = InMemoryTableStore()
    pipeline = PipelineInMemory(store)
    for event in signup_events(3, None):
        pipeline.post(event)
    reader = RegistrationReader(store)

    lines = io.StringIO()
    assert export(reader.iter_all(), "jsonl", lines) == 3
    first = json.loads(lines.getvalue().splitlines()[0])
    for field in ("tenant_id", "user_id", "email", "phone_number", "connection_name"):
        assert field in first
    assert first["created_at"].endswith("Z")

    table = io.StringIO()
    assert export(reader.iter_all(), "csv", table) == 3
    rows = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert len(rows) == 3
    assert rows[0]["phone_number"] == ""
    assert rows[0]["user_metadata"] == "{}"
    with pytest.raises(UsageProblem):
        export(reader.iter_all(), "xml", io.StringIO())


def test_audit_items_are_chunked_to_fit_a_table_property_and_listed_newest_first():
    store = InMemoryAuditStore()
    clock = FakeClock()
    trail = AuditTrail(store, "ana@laptop", clock.now)
    older = trail.begin("purge", "registrations", "all", 1)
    clock.advance(60)
    newer = trail.begin("replay", "registrations", "all", 250)
    trail.record(newer, [{"message_id": f"m{n}"} for n in range(250)])
    trail.finish(newer, "succeeded", {"replayed": 250})

    assert [len(store.items[newer.action_id][n]) for n in range(3)] == [ITEMS_PER_ENTITY, 100, 50]
    assert [e.action_id for e in store.recent(10)] == [newer.action_id, older.action_id]
    assert store.recent(1)[0].message_ids == [f"m{n}" for n in range(250)]
    assert older.row_key > newer.row_key


def test_the_apps_erasure_row_is_an_operators_summary_row():
    deleted_at = datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=UTC)
    deletion = UserDeletion.of("acme", "auth0|gone", deleted_at, "event-stream")
    result = ErasureResult(deleted_at, entities=1)
    row = audit_entity(deletion, "del_1", result, deleted_at)

    entry = entry_from_entity(row)

    assert entry.row_key == row["RowKey"]
    assert set(summary_entity(entry)) == {*row, "error"}  # the app's row has no error column
    assert json.loads(row["counts"]) == entry.counts == result.counts()


def test_a_summary_column_outside_the_format_is_refused():
    started = datetime(2026, 11, 27, tzinfo=UTC)
    with pytest.raises(ValueError, match="user_id"):
        audit_rows.summary_entity(started, {"action_id": "a1", "counts": {}, "user_id": "auth0|1"})


def test_json_mode_writes_one_object_per_line_and_no_table():
    out = io.StringIO()
    output = Output(True, out, io.StringIO())
    when = datetime(2026, 11, 26, 3, tzinfo=UTC)
    output.rows([{"a": 1, "when": when, "raw": b"\x00"}, {"a": 2}], ("a",))
    output.say("not in json mode")
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {"a": 1, "when": "2026-11-26T03:00:00+00:00", "raw": "AA=="},
        {"a": 2},
    ]


def test_table_mode_shows_the_chosen_columns_and_dashes_for_nothing():
    out = io.StringIO()
    output = Output(False, out, io.StringIO())
    output.rows([{"a": 1, "b": None, "hidden": "secret-column"}], ("a", "b"), title="things")
    text = out.getvalue()
    assert "things" in text
    assert "-" in text
    assert "secret-column" not in text
    empty = io.StringIO()
    Output(False, empty, io.StringIO()).rows([], ("a",), title="things")
    assert empty.getvalue().strip() == "things: nothing found"


def test_progress_is_silent_without_a_terminal():
    err = io.StringIO()
    with Output(False, io.StringIO(), err).progress("working", 3) as advance:
        advance(3)
    assert err.getvalue() == ""


def test_refusals_without_a_problem_body_get_a_hint():
    from ops.smoke import explain

    assert explain(IngestAnswer(401, {})) == (
        " (check --function-key / LOCALDEV_FUNCTION_KEY and WEBHOOK_SECRET)"
    )
    assert explain(
        IngestAnswer(400, {"title": "Bad Request", "detail": "user.user_id: is required"})
    ) == (": user.user_id: is required")
    assert explain(IngestAnswer(500, {})) == ""
