"""Registrations, audit, smoke, test events and failure modes of `python -m ops` (subprocess)."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient

from ops.audit.record import AuditTrail
from ops.audit.table import TableAuditStore
from shared.events import validate_event
from shared.registrations import Registration
from shared.tablestore import AzureTableStore
from shared.writes import RegistrationWriter
from tests.fixtures.ports import free_port
from tests.integration.ops.conftest import TENANT, OpsEnv, event, run_ops


def write_registrations(env: OpsEnv, users: list[tuple[str, datetime]]) -> None:
    service = TableServiceClient.from_connection_string(env.tables_connection_string)
    store = AzureTableStore(service.get_table_client(env.registrations_table))
    store.ensure_table()
    writer = RegistrationWriter(store)
    for user_id, created in users:
        document = event(user_id, created.isoformat().replace("+00:00", "Z"))
        now = datetime.now(UTC)
        writer.save(
            Registration.from_event(
                validate_event(document),
                message_id=f"m-{user_id}",
                correlation_id="c",
                received_at=now,
                processed_at=now,
                delivery_count=1,
            )
        )


def test_registrations_get_list_and_export(ops_env):
    env = ops_env()
    base = datetime(2026, 11, 26, 3, tzinfo=UTC)
    users = [(f"auth0|r{n}", base + timedelta(hours=n)) for n in range(5)]
    users.append(("samlp|acme|j/doe#1", base + timedelta(minutes=30)))
    write_registrations(env, users)

    [row] = env.json_lines("registrations", "get", "samlp|acme|j/doe#1", "--tenant", TENANT)
    for field in ("tenant_id", "user_id", "email", "phone_number", "connection_name"):
        assert field in row
    assert row["user_id"] == "samlp|acme|j/doe#1"
    assert row["connection_name"] == "Username-Password-Authentication"
    assert row["created_at"].startswith("2026-11-26T03:30:00")
    assert row["received_at"]

    window = env.json_lines(
        "registrations", "list", "--since", "2026-11-26T03:00Z", "--until", "2026-11-26T06:00Z"
    )
    assert [r["user_id"] for r in window] == [
        "auth0|r0",
        "samlp|acme|j/doe#1",
        "auth0|r1",
        "auth0|r2",
    ]
    assert len(env.json_lines("registrations", "list", "--limit", "2")) == 2
    human = env.ops("registrations", "list")
    assert human.returncode == 0
    assert "auth0|r4" in human.stdout

    out = env.tmp / "all.csv"
    done = env.ops("registrations", "export", "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 7  # header + 6
    jsonl = env.ops("registrations", "export")
    assert len(jsonl.stdout.splitlines()) == 6

    missing = env.ops("registrations", "get", "auth0|nobody")
    assert missing.returncode == 1
    assert missing.stderr == "error: no registration for user 'auth0|nobody'\n"


def test_audit_list_is_newest_first_and_reads_only_what_it_shows(ops_env):
    env = ops_env()
    service = TableServiceClient.from_connection_string(env.tables_connection_string)
    trail = AuditTrail(TableAuditStore(service.get_table_client(env.audit_table)), "bo@desk")
    for n in range(3):
        entry = trail.begin("purge", "registrations", f"seq {n}", 1)
        trail.record(entry, [{"sequence_number": n, "message_id": f"reg_{n}", "outcome": "purged"}])
        trail.finish(entry, "succeeded", {"purged": 1})
        time.sleep(0.01)

    rows = env.json_lines("audit", "list", "--limit", "2")

    assert [r["selection"] for r in rows] == ["seq 2", "seq 1"]
    assert rows[0]["message_ids"] == ["reg_2"]
    assert rows[0]["operator"] == "bo@desk"
    assert rows[0]["finished_at"] >= rows[0]["started_at"]


def test_unreachable_services_are_one_line_and_exit_1(tmp_path: Path) -> None:
    dead_sb, dead_tables = free_port(), free_port()
    settings = tmp_path / "local.settings.json"
    values = {
        "ServiceBusConnection": (
            f"Endpoint=sb://localhost:{dead_sb};SharedAccessKeyName=RootManageSharedAccessKey;"
            "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
        ),
        "TablesConnection": (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
            f"TableEndpoint=http://127.0.0.1:{dead_tables}/devstoreaccount1;"
        ),
        "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    settings.write_text(json.dumps({"Values": values}))
    cases = [
        (["dlq", "list"], "Service Bus unreachable"),
        (["dlq", "replay", "--all", "--yes"], "Service Bus unreachable"),
        (["audit", "list"], "Table Storage unreachable"),
        (["registrations", "list"], "Table Storage unreachable"),
        (["send-test-event", "--url", f"http://127.0.0.1:{dead_sb}/api/registrations"], "ingest"),
    ]
    for args, fragment in cases:
        started = time.monotonic()
        done = run_ops(*args, settings=settings)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.count("\n") == 1, (args, done.stderr)
        assert done.stderr.startswith("error: "), done.stderr
        assert fragment in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert time.monotonic() - started < 20, args


def test_bad_flags_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["dlq", "replay"],
        ["dlq", "replay", "--all", "--seq", "1"],
        ["dlq", "purge", "--all"],
        ["dlq", "list", "--limit", "-1"],
        ["registrations", "list", "--since", "last tuesday"],
        ["frobnicate"],
    ):
        done = run_ops(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1, (args, done.stderr)
        assert done.stderr.startswith("error: "), done.stderr


def test_send_test_event_and_smoke_through_the_local_stack(
    local_stack: Any, tmp_path: Path
) -> None:
    stack = local_stack()
    settings = tmp_path / "stack.settings.json"
    settings.write_text(json.dumps({"Values": stack.values}))

    def ops(*args: str) -> subprocess.CompletedProcess[str]:
        return run_ops(*args, settings=settings, timeout=120)

    sent = ops("send-test-event", "--count", "3", "--url", stack.ingest_url, "--json")
    assert sent.returncode == 0, sent.stderr
    rows = [json.loads(line) for line in sent.stdout.splitlines()]
    assert [r["status"] for r in rows] == [202, 202, 202]
    assert len({r["user_id"] for r in rows}) == 3

    smoke = ops("smoke", "--url", stack.ingest_url, "--cleanup", "--timeout", "60", "--json")
    assert smoke.returncode == 0, smoke.stderr
    [result] = [json.loads(line) for line in smoke.stdout.splitlines()]
    assert result["tenant_id"] == "smoke-test"
    assert result["user_id"].startswith("smoke|")
    assert 0 < result["latency_seconds"] < 60
    assert result["cleaned_up"] is True

    gone = ops("registrations", "get", result["user_id"], "--tenant", "smoke-test")
    assert gone.returncode == 1
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = ops("registrations", "export")
        found = {json.loads(line)["user_id"] for line in listed.stdout.splitlines()}
        if {r["user_id"] for r in rows} <= found:
            break
        time.sleep(0.5)
    assert {r["user_id"] for r in rows} <= found
    assert result["user_id"] not in found

    wrong_key = ops("smoke", "--url", stack.ingest_url, "--function-key", "nope", "--timeout", "5")
    assert wrong_key.returncode == 1
    assert wrong_key.stderr.startswith("error: ingest answered 401")
