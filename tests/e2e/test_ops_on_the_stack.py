"""ops against a running local stack, as a user runs it after `make run`.

The stack runs on free (non-default) ports, so ops gets only what
`localdev up` gives a user there: the settings copy with the stack's own
endpoints (`--settings .localdev/ops.settings.json`), no environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from azure.data.tables import TableClient

from localdev.settings_file import LOCAL_TENANT_ID, write_ops_settings
from shared.registrations import Registration, RegistrationReader
from shared.settings import Settings
from shared.tablestore import AzureTableStore


def ops(settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ops --settings SETTINGS ARGS`, with no app setting in the environment."""
    aliases = {field.alias for field in Settings.model_fields.values()}
    environment = {key: value for key, value in os.environ.items() if key not in aliases}
    return subprocess.run(
        [sys.executable, "-m", "ops", "--settings", str(settings), *args],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def wait_stored(stack, user_id: str, timeout: float = 60.0) -> Registration:
    table = stack.values.get("REGISTRATIONS_TABLE", "registrations")
    with TableClient.from_connection_string(stack.tables_connection_string, table) as client:
        reader = RegistrationReader(AzureTableStore(client))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = reader.get(user_id, LOCAL_TENANT_ID)
            if rows:
                return rows[0]
            time.sleep(0.25)
    raise AssertionError(f"{user_id} not stored; host log: {stack.host_log.read_text()[-2000:]}")


def test_send_test_event_trace_and_status_reach_a_stack_on_its_own_ports(
    local_stack, tmp_path
) -> None:
    spans = tmp_path / "spans.jsonl"
    stack = local_stack(values={"LOCALDEV_TRACE_FILE": str(spans)})
    # Given the settings copy `localdev up` writes for a stack on other ports
    settings = write_ops_settings(
        stack.config.settings_path, tmp_path / "ops.settings.json", stack.endpoint_overrides()
    )
    assert settings is not None

    # When a test event is sent, its trace id is printed...
    sent = ops(settings, "send-test-event", "--url", stack.ingest_url, "--json")
    assert sent.returncode == 0, sent.stderr
    row = json.loads(sent.stdout)
    assert row["accepted"] is True
    assert len(row["trace_id"]) == 32
    # ...and it is the trace the stored row travelled in
    stored = wait_stored(stack, row["user_id"])
    assert stored.trace_id == row["trace_id"]
    # And `ops trace` shows that path: ingest, its publish, the processor
    traced = ops(settings, "trace", row["trace_id"], "--json")
    assert traced.returncode == 0, traced.stderr
    names = {json.loads(line)["name"] for line in traced.stdout.splitlines()}
    assert {"ingest", "ingest.publish"} <= names
    assert len(names) >= 3, names

    # And `ops status` reads the queue's counts from the emulator's management API (HTTPS)
    counts = status_counts(settings)
    assert isinstance(counts["active_messages"], int)
    assert isinstance(counts["dead_letter_messages"], int)
    deadline = time.monotonic() + 20  # the processor settles the message just after the write
    while counts["active_messages"] and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = status_counts(settings)
    assert (counts["active_messages"], counts["dead_letter_messages"]) == (0, 0)


def status_counts(settings: Path) -> dict:
    status = ops(settings, "status", "--json")
    assert status.returncode == 0, status.stderr
    return json.loads(status.stdout)
