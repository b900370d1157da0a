"""Degrade, don't fail: ops with Table Storage down, and with Service Bus down (subprocess).

A service is "down" here the way an operator meets it: its endpoint refuses
connections (a free port nothing listens on), with the other service running.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from azure.servicebus import ServiceBusSubQueue

from tests.fixtures.ports import free_port
from tests.integration.ops.conftest import OpsEnv
from tests.integration.ops.test_ops_cli_services import write_registrations

DLQ = ServiceBusSubQueue.DEAD_LETTER
DEAD_TABLES = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
)
DEAD_SERVICE_BUS = (
    "Endpoint=sb://localhost:{port};SharedAccessKeyName=RootManageSharedAccessKey;"
    "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;"
)


def with_setting(env: OpsEnv, name: str, value: str) -> None:
    document = json.loads(env.settings_path.read_text())
    document["Values"][name] = value
    env.settings_path.write_text(json.dumps(document))


def test_dlq_reads_work_while_table_storage_is_down_and_changes_refuse(
    ops_env, tmp_path: Path
) -> None:
    # Given: two dead letters, then Table Storage goes away
    env = ops_env()
    env.seed(["auth0|outage1", "auth0|outage2"], reason="ProcessingFailed")
    with_setting(env, "TablesConnection", DEAD_TABLES.format(port=free_port()))

    # Then: the reads show the broker's reason and mark the recorded error unavailable
    rows = env.json_lines("dlq", "list")
    assert [r["dead_letter_reason"] for r in rows] == ["ProcessingFailed"] * 2
    assert all(r["last_error"] is None for r in rows)
    assert all(r["last_error_unavailable"] is True for r in rows)
    human = env.ops("dlq", "list")
    assert human.returncode == 0, human.stderr
    assert "unavailable" in human.stdout
    [detail] = env.json_lines("dlq", "show", str(rows[0]["sequence_number"]))
    assert detail["last_error_unavailable"] is True
    exported = env.ops("dlq", "export", "--out", str(tmp_path / "dlq.jsonl"))
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "dlq.jsonl").read_text().splitlines()) == 2

    # And: changes refuse to start, with one line, and change nothing
    for action in (["replay", "--all", "--yes"], ["purge", "--all", "--yes"]):
        refused = env.ops("dlq", *action)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1
        assert "nothing was changed: the audit record cannot be written" in refused.stderr
    assert len(env.peek(DLQ)) == 2
    assert env.peek() == []

    erase = env.ops("registrations", "erase", "auth0|outage1", "--tenant", "acme", "--yes")
    assert erase.returncode == 1
    assert erase.stderr.count("\n") == 1
    assert "nothing was erased" in erase.stderr
    assert len(env.peek(DLQ)) == 2


def test_registrations_work_while_service_bus_is_down(ops_env, tmp_path: Path) -> None:
    env = ops_env()
    write_registrations(env, [("auth0|sb-down", datetime(2026, 11, 26, 3, tzinfo=UTC))])
    with_setting(env, "ServiceBusConnection", DEAD_SERVICE_BUS.format(port=free_port()))

    [row] = env.json_lines("registrations", "get", "auth0|sb-down")
    assert row["user_id"] == "auth0|sb-down"
    assert len(env.json_lines("registrations", "list")) == 1
    out = tmp_path / "registrations.csv"
    done = env.ops("registrations", "export", "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "auth0|sb-down" in out.read_text()
    status = env.ops("status")
    assert status.returncode == 1
    assert status.stderr.count("\n") == 1
    assert status.stderr.startswith("error: the Service Bus administration endpoint is unreachable")
