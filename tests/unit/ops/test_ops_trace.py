"""`ops trace ID`: spans found by trace, message or user id, printed as a timed tree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.cli import app as cli
from shared.writes import RegistrationWriter
from tests.unit.ops.test_ops_cli import FakeWiring, run
from tests.unit.ops.test_ops_hardening import registration

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
ACTION_SPAN = "00f067aa0ba902b7"
MESSAGE = "reg_" + "a" * 32
USER = "auth0|traced"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def span(trace: str, span_id: str, parent: str | None, name: str, at_ms: float, **attrs: Any):
    return {
        "trace_id": trace,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start": (T0 + timedelta(milliseconds=at_ms)).isoformat(),
        "duration_ms": 10.0,
        "attributes": attrs,
    }


@pytest.fixture
def span_file(tmp_path: Path) -> Path:
    path = tmp_path / "spans.jsonl"
    lines = [
        span(TRACE, "1111111111111111", ACTION_SPAN, "ingest", 0, message_id=MESSAGE, user_id=USER),
        span(TRACE, "2222222222222222", "1111111111111111", "processor", 60, message_id=MESSAGE),
        span(OTHER_TRACE, "3333333333333333", None, "ingest", 500, message_id="reg_other"),
    ]
    text = "\n".join(json.dumps(line) for line in lines)
    path.write_text(text + '\n{"trace_id": "cut short', encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def stored_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def wiring(*args: Any, **kwargs: Any) -> FakeWiring:
        made = FakeWiring(*args, **kwargs)
        RegistrationWriter(made.registrations_store).save(
            registration(tenant_id="acme", user_id=USER, trace_id=TRACE)
        )
        return made

    monkeypatch.setattr(cli, "Wiring", wiring)


@pytest.mark.parametrize("identifier", [TRACE, MESSAGE, USER])
def test_any_id_of_the_signup_finds_its_spans(
    capsys: pytest.CaptureFixture[str], span_file: Path, identifier: str
) -> None:
    code, out, err = run(capsys, "trace", identifier, "--spans", str(span_file), "--json")
    assert code == 0, err
    spans = [json.loads(line) for line in out.splitlines()]
    assert [s["name"] for s in spans] == ["ingest", "processor"]
    assert {s["trace_id"] for s in spans} == {TRACE}


def test_the_human_view_is_the_timed_path_with_the_queue_wait_and_the_row(
    capsys: pytest.CaptureFixture[str], span_file: Path
) -> None:
    code, out, err = run(capsys, "trace", USER, "--spans", str(span_file))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"trace {TRACE}: 2 spans, 70.0 ms"
    assert lines[1].startswith(f"Action (span {ACTION_SPAN}")
    assert "└─ ingest  +0.0 ms  10.0 ms" in lines[2]
    assert "└─ processor  +60.0 ms  10.0 ms (queued 50.0 ms)" in lines[3]
    assert lines[3].index("└─") > lines[2].index("└─")  # nested under ingest
    assert f"row acme / {USER}" in lines[4]


def test_an_unknown_id_or_a_missing_file_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], span_file: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "trace", "auth0|nobody", "--spans", str(span_file))
    assert code == 1
    assert err == f"error: nothing recorded for 'auth0|nobody' in {span_file}\n"
    code, _, err = run(capsys, "trace", TRACE, "--spans", str(tmp_path / "none.jsonl"))
    assert code == 1
    assert "no span file" in err
