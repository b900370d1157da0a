"""The reconciler's timer function in the local Functions host, as `make run` starts it.

The whole local stack (Azurite, the emulator, the Auth0 stand-in with the
AUTH0_* values written into local.settings.json, and the host running
function_app.py with its timer triggers). A user created in the stand-in
through its admin endpoint, with no Action at all, reaches the table through
the timer's sweep, the queue and the processor.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from azure.data.tables import TableClient

from shared.ids import registration_id
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import AzureTableStore

pytestmark = pytest.mark.timeout(300)
SCHEDULE = "*/5 * * * * *"  # every 5 s
SETTLE_LAG_SECONDS = "1"
WAIT_SECONDS = 120.0


def admin_create_user(auth0_url: str, user: dict[str, Any]) -> dict[str, Any]:
    """POST /admin/users on the stand-in; the user as it stored it (created_at filled in)."""
    answer = httpx.post(f"{auth0_url}/admin/users", json=user, timeout=10)
    assert answer.status_code == 201, answer.text
    created: list[dict[str, Any]] = answer.json()
    return created[0]


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"waited {WAIT_SECONDS:.0f} s for {what}"
        time.sleep(0.5)


def test_the_timer_brings_a_user_no_action_reported_into_the_table(local_stack) -> None:
    stack = local_stack(
        values={"RECONCILE_SCHEDULE": SCHEDULE, "RECONCILE_SETTLE_LAG_SECONDS": SETTLE_LAG_SECONDS}
    )
    tenant = stack.values["AUTH0_TENANT_ID"]
    table_name = stack.values.get("REGISTRATIONS_TABLE") or "registrations"
    table = TableClient.from_connection_string(stack.tables_connection_string, table_name)
    reader = RegistrationReader(AzureTableStore(table))

    # Given a Google user created in Auth0 (the stand-in), which no Action reports
    user = admin_create_user(
        stack.auth0_url,
        {
            "user_id": f"google-oauth2|{uuid.uuid4().int}",
            "email": "timer@example.com",
            "email_verified": True,
            "identities": [{"connection": "google-oauth2", "provider": "google-oauth2"}],
        },
    )
    stored: list[Registration] = []

    def in_table() -> bool:
        stored[:] = reader.get(user["user_id"], tenant)
        return bool(stored)

    # When the host's timer runs the sweep (every 5 s), then the processor
    wait_for(in_table, "the timer-reconciled user in the table")

    # Then it is stored once, as the reconciler sends it, with the Action's message id
    [registration] = stored
    assert registration.source == "reconcile"
    assert registration.message_id == registration_id(tenant, user["user_id"], user["created_at"])
    assert registration.connection_name == "google-oauth2"
    assert registration.email is None  # SEND_FIELDS defaults to none
    sweeps = [
        line for line in stack.host_log_lines()
        if line.get("message") == "invocation" and line.get("function") == "reconcile_sweep"
    ]  # fmt: skip
    assert sweeps, "no reconcile_sweep invocation in the host log"
    assert {line.get("outcome") for line in sweeps} == {"succeeded"}
