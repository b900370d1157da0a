"""`python -m ops events kept` over Azurite: the deliveries Event Streams kept, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.cli.app import main
from shared.failures import FailureLog, ProcessingFailure
from shared.rejections import RejectionLog
from tests.integration.pipeline.conftest import make_store
from tests.unit.events.conftest import TENANT, body, cloud_event

T0 = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
MARKUP_USER = "auth0|[bold red]x[/]"  # a user id is data: printed as typed, never as markup


@pytest.fixture
def kept(monkeypatch, tmp_path, tables_connection_string, table_name_factory):
    """A fresh FAILURES_TABLE the CLI reads; yields (settings file, RejectionLog, FailureLog)."""
    table = table_name_factory("fail")
    store = make_store(tables_connection_string, table)
    monkeypatch.setenv("TablesConnection", tables_connection_string)
    monkeypatch.setenv("FAILURES_TABLE", table)
    monkeypatch.setenv("AUTH0_TENANT_ID", TENANT)
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text('{"Values": {}}', encoding="utf-8")
    return settings_file, RejectionLog(store, TENANT), FailureLog(store)


def run(settings_file: Path, *args: str) -> int:
    return main(["--settings", str(settings_file), "events", "kept", *args])


def test_kept_deliveries_are_listed_newest_first_without_their_bodies(kept, capsys) -> None:
    settings_file, rejections, failures = kept
    oldest = rejections.keep(b"{not json", "malformed JSON", T0)
    middle = rejections.keep(
        body(cloud_event(user_id=MARKUP_USER, created_at="yesterday")),
        "bad created_at",
        T0 + timedelta(minutes=1),
    )
    newest = rejections.keep(b"x" * 5000, "malformed JSON", T0 + timedelta(minutes=2))
    # The processor's failure records share the table (partitions f..): not listed here
    failures.record(
        ProcessingFailure(
            message_id="reg_0123", delivery_count=1, error_type="X", error_message="m",
            permanent=True, correlation_id="c", failed_at=T0,
        )
    )  # fmt: skip

    assert run(settings_file, "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["id"] for row in rows] == [newest, middle, oldest]
    assert rows[0]["size"] == 5000
    assert rows[1] == {
        "id": middle,
        "kept_at": (T0 + timedelta(minutes=1)).isoformat(),
        "cause": "bad created_at",
        "user_id": MARKUP_USER,
        "size": rows[1]["size"],
        "event_type": "user.created",
        "body_truncated": False,
    }
    assert rows[2]["user_id"] is None  # unreadable: no user id known
    assert all("body" not in row for row in rows)

    assert run(settings_file, "--json", "--limit", "2") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    assert run(settings_file) == 0
    table = capsys.readouterr().out
    assert MARKUP_USER in table  # escaped: the markup is printed, not applied
    assert "bad created_at" in table
    assert newest in table


def test_nothing_kept_says_so(kept, capsys) -> None:
    assert run(kept[0]) == 0
    assert "nothing found" in capsys.readouterr().out


def test_a_limit_below_one_is_one_line_and_exit_2(kept, capsys) -> None:
    assert run(kept[0], "--limit", "0") == 2
    assert capsys.readouterr().err.count("\n") == 1
