"""The Auth0 Action's own code, run in Node, against the whole local stack.

`node auth0/scripts/run-action.js EVENT.json` calls the Action's handler with a realistic
Auth0 post-user-registration `event` and the stack's secrets; the registration must land
in the table with only the fields the Action was configured to send.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableClient

from shared.ids import registration_id
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import AzureTableStore
from tests.fixtures.stack import StackHandle

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "auth0" / "scripts" / "run-action.js"
EVENTS = ROOT / "auth0" / "testing" / "events"


def node() -> str:
    path = shutil.which("node")
    assert path, "node is needed for the Action's e2e tests (Node 20+)"
    assert (ROOT / "auth0" / "node_modules" / "standardwebhooks").is_dir(), (
        "run `cd auth0 && npm ci` (make setup does it)"
    )
    return path


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


def run_action(
    stack: StackHandle, event_name: str, send_fields: str | None
) -> tuple[int, dict[str, Any], str]:
    """Run the Action on one event; returns (exit code, result line, the Action's log)."""
    env = {
        **os.environ,
        "WEBHOOK_SECRET": stack.webhook_secret,
        "INGEST_URL": stack.ingest_url,
        "FUNCTION_KEY": stack.function_key,
    }
    env.pop("SEND_FIELDS", None)
    if send_fields is not None:
        env["SEND_FIELDS"] = send_fields
    completed = subprocess.run(
        [node(), str(RUNNER), str(EVENTS / f"{event_name}.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=40,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f"no result line; stderr: {completed.stderr}"
    return completed.returncode, json.loads(lines[-1]), completed.stderr


def wait_stored(
    stack: StackHandle, tenant_id: str, user_id: str, timeout: float = 60.0
) -> Registration:
    table_name = stack.values.get("REGISTRATIONS_TABLE", "registrations")
    deadline = time.monotonic() + timeout
    with TableClient.from_connection_string(stack.tables_connection_string, table_name) as table:
        reader = RegistrationReader(AzureTableStore(table))
        while time.monotonic() < deadline:
            rows = reader.get(user_id, tenant_id)
            if rows:
                assert len(rows) == 1, rows
                return rows[0]
            time.sleep(0.25)
    raise AssertionError(f"{user_id} not stored within {timeout}s")


@pytest.fixture
def stack(local_stack: Callable[..., StackHandle]) -> StackHandle:
    return local_stack()


def test_the_action_delivers_realistic_signups_into_the_table(stack: StackHandle) -> None:
    cases = [
        # (event file, SEND_FIELDS, email expected, phone expected)
        ("database", "email,phone_number", "ana.silva@example.com", None),
        ("passwordless-sms", "email,phone_number", None, "+5511987654321"),
        ("custom-db-odd-id", None, None, None),  # default: nothing personal
        ("enterprise-saml", "all", "john.doe@acme-corp.example", None),
    ]
    for event_name, send_fields, email, phone in cases:
        event = load_event(event_name)
        tenant_id, user_id = event["tenant"]["id"], event["user"]["user_id"]
        # When the Action runs for this signup
        code, result, log = run_action(stack, event_name, send_fields)
        # Then the ingest accepted it at the first attempt, under the team's registration id
        assert code == 0, (event_name, result, log)
        assert result == {
            "delivered": True,
            "reason": "delivered",
            "attempts": 1,
            "status": 202,
            "registrationId": registration_id(tenant_id, user_id),
        }
        # And it is stored with only what the Action was told to send
        row = wait_stored(stack, tenant_id, user_id)
        assert row.user_id == user_id
        assert row.tenant_id == tenant_id
        assert row.connection_name == event["connection"]["name"]
        assert row.email == email
        assert row.phone_number == phone
        # And its log carries the registration id, never the user
        assert registration_id(tenant_id, user_id) in log
        assert user_id not in log
        assert event["user"].get("email", "@@") not in log


def test_the_action_retries_through_a_broker_outage(stack: StackHandle) -> None:
    event = load_event("passwordless-email")
    tenant_id, user_id = event["tenant"]["id"], event["user"]["user_id"]
    # Given the broker is down, so the ingest answers 503 with Retry-After
    stack.kill_emulator()
    restarter = threading.Timer(2.0, stack.start_emulator)
    restarter.start()
    try:
        # When the Action runs while the broker comes back
        code, result, log = run_action(stack, "passwordless-email", "email")
    finally:
        restarter.join()
    # Then its own retries deliver it inside its 15 s budget
    assert code == 0, (result, log)
    assert result["attempts"] >= 2, log
    assert "status=503" in log
    row = wait_stored(stack, tenant_id, user_id)
    assert row.email == "kenji.tanaka@example.jp"
