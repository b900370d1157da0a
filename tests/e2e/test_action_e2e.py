"""The Auth0 Actions' own code, run in Node, against the whole local stack.

`node auth0/scripts/run-action.js [--trigger post-login] EVENT.json` calls an Action's
handler with a realistic Auth0 `event` and the stack's secrets; the registration must land
in the table with only the fields the Action was configured to send, under the id the
Action sent, with the trace the Action started.
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
# The first-login Action's budget here: its 1 s is asserted against an HTTP double in
# auth0/test/first-login.test.js; the local host on a loaded 2-core machine can take longer
# than that to answer, and this tier tests the path through the stack, not the budget.
LOCAL_FIRST_LOGIN_BUDGET_MS = "5000"
RUNNER = ROOT / "auth0" / "scripts" / "run-action.js"
BUILD = ROOT / "auth0" / "scripts" / "build-actions.js"
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
    stack: StackHandle,
    event: str | dict[str, Any],
    send_fields: str | None,
    trigger: str = "post-user-registration",
) -> tuple[int, dict[str, Any], str]:
    """Run an Action on one event; returns (exit code, result line, the Action's log).

    `event` is a file under auth0/testing/events/ without `.json` (post-login events are
    under `post-login/`), or the event itself (sent on stdin); `trigger` picks the Action.
    """
    env = {
        **os.environ,
        "WEBHOOK_SECRET": stack.webhook_secret,
        "INGEST_URL": stack.ingest_url,
        "FUNCTION_KEY": stack.function_key,
    }
    env.pop("SEND_FIELDS", None)
    if send_fields is not None:
        env["SEND_FIELDS"] = send_fields
    arguments = ["--trigger", trigger]
    if trigger == "post-login":
        arguments += ["--budget-ms", LOCAL_FIRST_LOGIN_BUDGET_MS]
    source = str(EVENTS / f"{event}.json") if isinstance(event, str) else "-"
    completed = subprocess.run(
        [node(), str(RUNNER), *arguments, source],
        input=None if isinstance(event, str) else json.dumps(event),
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


@pytest.fixture(scope="module")
def built_actions() -> None:
    """Build both Actions from auth0/src, as `make actions` does.

    The bundles are build outputs, not in git, so a clean clone has none: a build that
    cannot run or fails fails these tests (never skips them), with the build's own error.
    """
    completed = subprocess.run(
        [node(), str(BUILD)], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, f"the Action build failed: {completed.stderr}"


@pytest.fixture
def stack(local_stack: Callable[..., StackHandle], built_actions: None) -> StackHandle:
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
        expected_id = registration_id(tenant_id, user_id, event["user"]["created_at"])
        # When the Action runs for this signup
        code, result, log = run_action(stack, event_name, send_fields)
        # Then the ingest accepted it at the first attempt, under the shared registration id
        assert code == 0, (event_name, result, log)
        assert result == {
            "delivered": True,
            "reason": "delivered",
            "attempts": 1,
            "status": 202,
            "registrationId": expected_id,
            "traceId": result["traceId"],
        }
        # And it is stored with only what the Action was told to send, from the Action
        row = wait_stored(stack, tenant_id, user_id)
        assert row.user_id == user_id
        assert row.tenant_id == tenant_id
        assert row.connection_name == event["connection"]["name"]
        assert row.email == email
        assert row.phone_number == phone
        assert row.message_id == expected_id
        assert row.source == "action"
        # And the trace the Action started reaches the row
        assert row.trace_id == result["traceId"]
        # And its log carries the registration id and trace id, never the user
        assert expected_id in log
        assert result["traceId"] in log
        assert user_id not in log
        assert event["user"].get("email", "@@") not in log


def test_the_action_retries_through_a_broker_outage(stack: StackHandle) -> None:
    event = load_event("passwordless-email")
    tenant_id, user_id = event["tenant"]["id"], event["user"]["user_id"]
    # Given the broker is down for longer than the ingest's own 3 s of sends, so the
    # ingest answers 503 with Retry-After
    stack.emulator.kill()
    restarter = threading.Timer(5.0, stack.start_emulator)
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


def test_the_first_login_action_delivers_social_and_enterprise_users(stack: StackHandle) -> None:
    # Given a warm ingest: the local host's first request opens the Service Bus connection,
    # and in Azure a cold start that outlasts the budget is the reconciler's to catch
    code, result, log = run_action(stack, "passwordless-email", None)
    assert code == 0, (result, log)
    for event_name, send_fields, email in [
        ("post-login/social-google", "email", "maria.gonzalez@gmail.example"),
        ("post-login/enterprise-saml", None, None),
    ]:
        event = load_event(event_name)
        tenant_id, user_id = event["tenant"]["id"], event["user"]["user_id"]
        expected_id = registration_id(tenant_id, user_id, event["user"]["created_at"])
        # When the user logs in for the first time (logins_count 1)
        code, result, log = run_action(stack, event_name, send_fields, trigger="post-login")
        # Then the one attempt is accepted under the shared registration id
        assert code == 0, (result, log)
        assert result == {
            "delivered": True,
            "reason": "delivered",
            "status": 202,
            "registrationId": expected_id,
            "traceId": result["traceId"],
        }
        # And the user is stored from the first-login path, with the Action's trace
        row = wait_stored(stack, tenant_id, user_id)
        assert row.source == "first-login"
        assert row.message_id == expected_id
        assert row.email == email
        assert row.connection_strategy == event["connection"]["strategy"]
        assert row.trace_id == result["traceId"]
        assert user_id not in log


def test_a_later_login_sends_nothing(stack: StackHandle) -> None:
    event = load_event("post-login/database-returning")
    # When a returning user (logins_count 7) logs in
    code, result, log = run_action(
        stack, "post-login/database-returning", "email", trigger="post-login"
    )
    # Then nothing is sent and nothing is logged
    assert (code, result, log) == (1, {"delivered": False, "reason": "not_first_login"}, "")
    table_name = stack.values.get("REGISTRATIONS_TABLE", "registrations")
    with TableClient.from_connection_string(stack.tables_connection_string, table_name) as table:
        reader = RegistrationReader(AzureTableStore(table))
        assert reader.get(event["user"]["user_id"], event["tenant"]["id"]) == []


def test_both_actions_for_one_database_signup_store_one_row(stack: StackHandle) -> None:
    event = load_event("database")
    tenant_id, user_id = event["tenant"]["id"], event["user"]["user_id"]
    # Given the registration Action delivered the signup
    code, registered, log = run_action(stack, "database", "email")
    assert code == 0, (registered, log)
    wait_stored(stack, tenant_id, user_id)
    # When the same user's first login sends it again (same tenant, user, created_at)
    first_login = load_event("post-login/database-returning")
    first_login["stats"]["logins_count"] = 1
    code, logged_in, log = run_action(stack, first_login, None, trigger="post-login")
    # Then both sent one id, and the broker dropped the copy: one row, from the Action
    assert code == 0, (logged_in, log)
    assert logged_in["registrationId"] == registered["registrationId"]
    time.sleep(2.0)  # room for a copy that should not arrive
    row = wait_stored(stack, tenant_id, user_id)
    assert row.source == "action"
    assert row.trace_id == registered["traceId"]
