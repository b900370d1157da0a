"""The CLI adapter: table vs --json, confirmations, and error -> exit code mapping.

`ops.cli.Wiring` (the composition root) is swapped for one that hands out the
in-memory implementations; everything else is the real CLI.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from ops.audit.record import AuditTrail
from ops.cli import app as cli
from ops.cli.views import DLQ_COLUMNS
from shared.errors import StorageUnavailable
from shared.runtime import AppContext
from shared.settings import Settings
from shared.tablestore import InMemoryTableStore
from tests.unit.ops.ops_fakes import (
    FakeClock,
    InMemoryAuditStore,
    InMemoryDeadLetterQueue,
    failure,
    letter,
)


class FakeWiring:
    """The composition root, with in-memory parts (the app's in an AppContext over memory)."""

    instance: FakeWiring

    def __init__(self, settings_path: Any = None, operator: str | None = None) -> None:
        self.operator = operator or "tester@host"
        self.dead_letter_queue = InMemoryDeadLetterQueue(FakeClock())
        self.dead_letter_queue.add(*(letter(n) for n in range(1, 4)))
        self.audit_store = InMemoryAuditStore()
        self.app_audit = InMemoryAuditStore()
        self.audit = AuditTrail(self.audit_store, self.operator)
        self.settings = Settings()
        self.registrations_store = InMemoryTableStore()
        self.app = AppContext(self.settings)
        self.app.set_table_store(self.settings.registrations_table, self.registrations_store)
        self.app.set_table_store(self.settings.failures_table, InMemoryTableStore())
        self.closed = False
        FakeWiring.instance = self

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def fake_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "Wiring", FakeWiring)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dlq_list_json_has_the_contract_fields_and_the_recorded_error(capsys):
    # Given: the processor recorded why message 2 failed
    code, out, err = run(capsys, "dlq", "list", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["sequence_number"] for r in rows] == [1, 2, 3]
    # every column of the human table, and what only scripts read
    assert rows[0].keys() >= {*DLQ_COLUMNS, "last_error_unavailable", "replay_count"}
    assert rows[0]["user_id"] == "auth0|user1"
    assert datetime.fromisoformat(rows[0]["enqueued_time"]).tzinfo is not None


def test_last_error_comes_from_the_failure_log(capsys, monkeypatch):
    def wiring_with_failure(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        wiring.app.failure_log.record(
            failure(
                f"reg_{2:032d}",
                "StorageRejected",
                "table service answered 400 PropertyValueTooLarge",
                permanent=True,
            )
        )
        return wiring

    monkeypatch.setattr(cli, "Wiring", wiring_with_failure)
    code, out, _ = run(capsys, "--json", "dlq", "list")  # --json before the command works too
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["last_error"] for r in rows] == [
        None,
        "StorageRejected: table service answered 400 PropertyValueTooLarge",
        None,
    ]


def test_dlq_list_default_is_a_human_table(capsys):
    code, out, _ = run(capsys, "dlq", "list")
    assert code == 0
    assert "sequence_number" in out
    assert "MaxDeliveryCountExceeded" in out
    assert not out.lstrip().startswith("{")


def test_replay_without_yes_off_a_terminal_is_bad_usage_and_changes_nothing(capsys):
    code, _out, err = run(capsys, "dlq", "replay", "--all")
    assert code == 2
    assert err == "error: not a terminal, so nothing to confirm with: add --yes\n"
    assert sorted(FakeWiring.instance.dead_letter_queue.letters) == [1, 2, 3]


def test_replay_with_yes_reports_each_message_and_a_summary(capsys):
    code, out, err = run(
        capsys, "--operator", "ana", "dlq", "replay", "--seq", "1,3", "--yes", "--json"
    )
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(r["sequence_number"], r["outcome"]) for r in lines[:-1]] == [
        (1, "replayed"),
        (3, "replayed"),
    ]
    assert lines[-1]["summary"] is True
    assert lines[-1]["counts"] == {"replayed": 2}
    assert FakeWiring.instance.audit_store.recent(1)[0].operator == "ana"
    assert FakeWiring.instance.closed


def test_an_incomplete_replay_exits_1_with_one_line(capsys, monkeypatch):
    def failing(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        wiring.dead_letter_queue.fail_send_after = 1
        return wiring

    monkeypatch.setattr(cli, "Wiring", failing)
    code, out, err = run(capsys, "dlq", "replay", "--all", "--yes")
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("error: 2 of 3 selected messages were not replayed")
    assert "failed" in out


def test_dry_run_changes_nothing(capsys):
    code, out, _ = run(capsys, "dlq", "replay", "--reason", "maxdelivery", "--dry-run")
    assert code == 0
    assert "would-replay" in out
    assert FakeWiring.instance.dead_letter_queue.main_queue == []
    assert FakeWiring.instance.audit_store.entries == {}


@pytest.mark.parametrize("command", ["replay", "purge"])
def test_replay_and_purge_select_by_every_selection_flag(capsys, command):
    args = ["--seq", "1,2", "--reason", "maxdelivery", "--error", "refused", "--older-than", "1h"]
    code, out, err = run(capsys, "dlq", command, *args, "--dry-run", "--json")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["selection"] == (
        "seq 1,2 and reason ~ 'maxdelivery' and older than 1:00:00 and error ~ 'refused'"
    )


def test_purge_needs_yes(capsys):
    code, _, err = run(capsys, "dlq", "purge", "--all")
    assert code == 2
    assert "--yes" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["dlq", "replay", "--bogus"], "No such option: --bogus"),
        (["dlq", "list", "--limit", "0"], "--limit"),
        (["dlq", "show", "abc"], "sequence_number"),
        (["dlq", "replay", "--all", "--seq", "3"], "cannot be combined"),
        (["dlq", "purge", "--older-than", "soon", "--yes"], "invalid duration"),
        (["dlq", "replay", "--all", "--rate", "fast", "--yes"], "invalid rate"),
        (["registrations", "list", "--since", "2026-02-01", "--until", "2026-01-01"], "earlier"),
        (["registrations", "export", "--format", "xml"], "jsonl or csv"),
        (["nonsense"], "No such command"),
        ([], "missing command"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys, args, fragment):
    code, _, err = run(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert fragment in err


def test_not_found_is_a_failure_not_bad_usage(capsys):
    code, _, err = run(capsys, "dlq", "show", "99")
    assert (code, err) == (1, "error: no dead-lettered message with sequence number 99\n")
    code, _, err = run(capsys, "registrations", "get", "auth0|nobody", "--tenant", "acme")
    assert code == 1
    assert "no registration for user 'auth0|nobody' in tenant 'acme'" in err


def test_storage_errors_and_surprises_are_one_line_exit_1(capsys, monkeypatch):
    def broken_reader(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)

        class Unreachable:
            def get(self, *a: Any, **k: Any) -> Any:
                raise StorageUnavailable("ServiceRequestError: Connection refused")

            def list(self, *a: Any, **k: Any) -> Any:
                raise RuntimeError("boom\nwith a second line")

        wiring.app.registration_reader = Unreachable()  # type: ignore[assignment]
        return wiring

    monkeypatch.setattr(cli, "Wiring", broken_reader)
    code, _, err = run(capsys, "registrations", "get", "auth0|x")
    assert code == 1
    assert (
        err == "error: Table Storage unreachable or busy: ServiceRequestError: Connection refused\n"
    )
    code, _, err = run(capsys, "registrations", "list")
    assert (code, err) == (1, "error: unexpected RuntimeError: boom with a second line\n")


def test_a_missing_settings_file_is_a_failure(capsys, monkeypatch, tmp_path):
    monkeypatch.undo()  # the real composition root
    code, _, err = run(capsys, "--settings", str(tmp_path / "nope.json"), "dlq", "list")
    assert code == 1
    assert err == f"error: settings file not found: {tmp_path / 'nope.json'}\n"


def test_error_filter_selects_by_the_processors_recorded_error(capsys, monkeypatch):
    def wiring_with_failures(*args: Any, **kwargs: Any) -> FakeWiring:
        wiring = FakeWiring(*args, **kwargs)
        for number, error_type in ((1, "InvalidEvent"), (2, "StorageUnavailable")):
            wiring.app.failure_log.record(
                failure(
                    f"reg_{number:032d}", error_type, "...", permanent=error_type == "InvalidEvent"
                )
            )
        return wiring

    monkeypatch.setattr(cli, "Wiring", wiring_with_failures)
    code, out, _ = run(capsys, "dlq", "list", "--error", "storageunavailable", "--json")
    assert code == 0
    assert [json.loads(line)["sequence_number"] for line in out.splitlines()] == [2]

    code, out, err = run(capsys, "dlq", "replay", "--error", "StorageUnavailable", "--yes")
    assert code == 0, err
    assert sorted(FakeWiring.instance.dead_letter_queue.letters) == [1, 3]
    assert "error ~ 'StorageUnavailable'" in out
