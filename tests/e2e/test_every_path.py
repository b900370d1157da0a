"""Event Streams through the whole local stack: created, deleted, signed up again.

Azurite + the Service Bus emulator + the local Functions host running the
real function_app.py. Auth0's deliveries are POSTed as Auth0 sends them: the
function key, `Authorization: Bearer`, one CloudEvent per request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.data.tables import TableClient

from shared.registrations import Registration, RegistrationReader
from shared.tablestore import AzureTableStore, KeyRange
from shared.tombstones import subject_hash
from tests.e2e.test_local_stack import http_post

TENANT = "e2e-events-tenant"
TOKEN = "e2e-events-token-" + uuid.uuid4().hex


def cloud_event(kind: str, user_id: str, created_at: datetime, time_: datetime) -> bytes:
    return json.dumps(
        {
            "id": "evt_" + uuid.uuid4().hex,
            "source": "urn:auth0:e2e.auth0.local:users",
            "specversion": "1.0",
            "type": kind,
            "time": time_.isoformat().replace("+00:00", "Z"),
            "a0tenant": "e2e",
            "a0stream": "est_e2e",
            "data": {
                "object": {
                    "user_id": user_id,
                    "created_at": created_at.isoformat().replace("+00:00", "Z"),
                    "email": "e2e-events@example.com",
                    "identities": [{"connection": "google-oauth2", "provider": "google-oauth2"}],
                }
            },
        }
    ).encode()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_event_streams_created_deleted_and_signed_up_again(local_stack) -> None:
    # RECONCILE_SCHEDULE: once a year, so the reconciler's timer stays out of this test.
    stack = local_stack(
        values={
            "AUTH0_EVENTS_TOKEN": TOKEN,
            "AUTH0_TENANT_ID": TENANT,
            "RECONCILE_SCHEDULE": "0 0 0 1 1 *",
        }
    )
    url = stack.host.url + "/api/auth0-events"
    auth = {
        "content-type": "application/cloudevents+json",
        "x-functions-key": stack.function_key,
        "authorization": f"Bearer {TOKEN}",
    }
    table = TableClient.from_connection_string(
        stack.tables_connection_string, table_name="registrations"
    )
    reader = RegistrationReader(AzureTableStore(table))
    user_id = f"google-oauth2|{uuid.uuid4().int}"
    created = datetime.now(UTC).replace(microsecond=123000)

    def stored() -> list[Registration]:
        return reader.get(user_id, TENANT)

    # A wrong token is a 401 Auth0 shows in the stream's health; nothing is enqueued.
    wrong = http_post(
        url,
        cloud_event("user.created", user_id, created, created),
        {**auth, "authorization": "Bearer nope"},
    )
    assert wrong.status == 401

    # Created (delivered twice, as Auth0 may): stored once, source event-stream.
    for _ in range(2):
        answer = http_post(url, cloud_event("user.created", user_id, created, created), auth)
        assert answer.status == 202, answer.body
        assert answer.json()["status"] == "accepted"
    wait_for(lambda: len(stored()) == 1, "the created user in the table")

    # Deleted: the entity goes, and the erasure is audited without personal data.
    deleted = created + timedelta(seconds=5)
    answer = http_post(url, cloud_event("com.auth0.user.deleted", user_id, created, deleted), auth)
    assert answer.status == 202, answer.body
    audit = AzureTableStore(
        TableClient.from_connection_string(stack.tables_connection_string, "apperasures")
    )

    def audit_rows() -> list[dict]:
        return list(audit.query(KeyRange.exactly("action")))

    wait_for(lambda: len(audit_rows()) == 1, "the erasure's audit row")
    assert stored() == []
    rows = audit_rows()
    assert [row["selection"] for row in rows] == ["user " + subject_hash(TENANT, user_id)[:32]]
    assert user_id not in json.dumps([dict(row) for row in rows], default=str)
    listed = subprocess.run(
        [sys.executable, "-m", "ops", "--json", "audit", "list"],
        env=stack.environment, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    erasures = [json.loads(line) for line in listed.stdout.splitlines() if '"erase"' in line]
    assert [(e["action"], e["operator"]) for e in erasures] == [("erase", "app:processor")]

    # A late copy of the old creation (Auth0 retrying out of order) stays a no-op...
    late = http_post(url, cloud_event("user.created", user_id, created, created), auth)
    assert late.status == 202
    # ...and a genuine re-signup with the same id, inside the duplicate window, is stored.
    again = created + timedelta(seconds=30)
    answer = http_post(url, cloud_event("user.created", user_id, again, again), auth)
    assert answer.status == 202
    wait_for(lambda: [r.created_at for r in stored()] == [again], "the re-signup")
    time.sleep(1.0)  # the late copy had its chance to be (wrongly) written
    assert [r.created_at for r in stored()] == [again]

    # Other types are acknowledged and ignored; an unusable delivery is kept with its cause.
    ignored = http_post(url, cloud_event("user.updated", user_id, again, again), auth)
    assert (ignored.status, ignored.json()) == (200, {"status": "ignored"})
    kept = http_post(url, b'{"type": "user.created", "data": ', auth)
    assert kept.status == 202
    assert kept.json()["status"] == "kept"
    failures = TableClient.from_connection_string(
        stack.tables_connection_string, table_name="registrationfailures"
    )
    rows = list(failures.query_entities("RowKey eq @id", parameters={"id": kept.json()["id"]}))
    assert [row["kind"] for row in rows] == ["event-stream-rejected"]
