"""The whole local stack, driven as a user (and the Auth0 Action) drives it.

Azurite + the Service Bus emulator + the local Functions host running the
real function_app.py, all on free ports: a signed POST lands in the table,
once, whatever breaks in between.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableClient
from standardwebhooks import Webhook

from ops.ingest_client import synthetic_event, webhook_id_for
from shared.registrations import RegistrationReader
from shared.tablestore import AzureTableStore

TENANT = "e2e-tenant"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30.0) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (local URL)
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def post_signed(stack, event: dict) -> Answer:
    """POST the event as the Action does: function key + Standard Webhooks signature."""
    body = json.dumps(event)
    msg_id = webhook_id_for(event)
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "x-functions-key": stack.function_key,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(stack.webhook_secret.split()[0]).sign(msg_id, now, body),
    }
    return http_post(stack.ingest_url, body.encode(), headers)


def post_until_accepted(stack, event: dict, budget: float = 60.0) -> tuple[Answer, list[int]]:
    """Re-send after 503 (honouring Retry-After, capped), like the Action's bounded retries."""
    statuses: list[int] = []
    deadline = time.monotonic() + budget
    while True:
        try:
            response = post_signed(stack, event)
        except OSError:
            statuses.append(0)
        else:
            statuses.append(response.status)
            if response.status != 503:
                return response, statuses
        if time.monotonic() > deadline:
            raise AssertionError(f"never accepted: {statuses}")
        time.sleep(1.0)


def table_client(stack) -> TableClient:
    return TableClient.from_connection_string(
        stack.tables_connection_string, stack.values.get("REGISTRATIONS_TABLE", "registrations")
    )


def stored(stack, user_id: str) -> list:
    with table_client(stack) as table:
        return RegistrationReader(AzureTableStore(table)).get(user_id, TENANT)


def entity_count(stack, user_id: str) -> int:
    with table_client(stack) as table:
        return sum(1 for e in table.list_entities() if e.get("user_id") == user_id)


def wait_stored(stack, user_id: str, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = stored(stack, user_id)
        if rows:
            return rows
        time.sleep(0.25)
    raise AssertionError(
        f"{user_id} not stored within {timeout}s; host log: {stack.host_log.read_text()[-2000:]}"
    )


LOCK_SECONDS = 5  # the project's queue has PT1M; a short lock keeps crash tests quick


@pytest.fixture
def stack(local_stack):
    return local_stack(queue_properties={"LockDuration": f"PT{LOCK_SECONDS}S"})


def unique_user() -> str:
    return f"auth0|e2e{uuid.uuid4().hex[:16]}"


def test_signed_post_lands_in_the_table_and_a_duplicate_adds_nothing(stack):
    user_id = unique_user()
    event = synthetic_event(TENANT, user_id)
    # When the Action posts a signed signup
    first = post_signed(stack, event)
    assert first.status == 202, first.body
    assert first.json() == {"id": webhook_id_for(event), "status": "accepted"}
    # Then it is stored
    (row,) = wait_stored(stack, user_id)
    assert row.user_id == user_id
    assert row.tenant_id == TENANT
    assert row.email == event["user"]["email"]
    time.sleep(1)
    entities_after_first = entity_count(stack, user_id)  # the row plus its time-index entry
    # When the same signup is posted again
    second = post_signed(stack, event)
    assert second.status == 202
    assert second.json()["id"] == first.json()["id"]
    time.sleep(2)
    # Then nothing was added
    assert len(stored(stack, user_id)) == 1
    assert entity_count(stack, user_id) == entities_after_first


def test_unsigned_or_keyless_posts_are_refused(stack):
    event = synthetic_event(TENANT, unique_user())
    body = json.dumps(event).encode()
    no_key = http_post(stack.ingest_url, body, {"content-type": "application/json"})
    assert no_key.status == 401
    unsigned = http_post(
        stack.ingest_url,
        body,
        {"content-type": "application/json", "x-functions-key": stack.function_key},
    )
    assert unsigned.status == 401


def test_emulator_down_answers_503_and_nothing_is_lost_once_it_is_back(stack):
    user_id = unique_user()
    event = synthetic_event(TENANT, user_id)
    # Given the broker is down
    stack.emulator.kill()
    # When the Action posts, it gets 503 with Retry-After
    refused = post_signed(stack, event)
    assert refused.status == 503, refused.body
    assert "Retry-After" in refused.headers
    # And the broker comes back (same data dir) while the client keeps re-sending after 503
    stack.start_emulator()
    accepted, statuses = post_until_accepted(stack, event)
    assert accepted.status == 202, (statuses, accepted.body)
    # Then the signup is stored exactly once
    wait_stored(stack, user_id)
    time.sleep(1)
    assert len(stored(stack, user_id)) == 1


def test_host_killed_mid_message_redelivers_and_stores_once(stack):
    # Given a warm processor (its table clients built while storage was up)
    warm_up = unique_user()
    assert post_signed(stack, synthetic_event(TENANT, warm_up)).status == 202
    wait_stored(stack, warm_up)
    # And storage is down, so the processor is stuck retrying with the message locked
    user_id = unique_user()
    event = synthetic_event(TENANT, user_id)
    stack.azurite.stop()
    assert post_signed(stack, event).status == 202
    message_id = webhook_id_for(event)
    deadline = time.monotonic() + 30
    while not any(
        line.get("message") == "invocation.started" and line.get("message_id") == message_id
        for line in stack.host_log_lines()
    ):
        assert time.monotonic() < deadline, "the processor never picked the message up"
        time.sleep(0.2)
    # When the host dies hard mid-message
    killed_at = datetime.now(UTC)
    stack.host.kill()
    stack.start_azurite()
    stack.start_host()
    # Then the broker redelivers it as soon as the lock expires, and it is stored once
    (row,) = wait_stored(stack, user_id, timeout=LOCK_SECONDS + 30)
    assert row.user_id == user_id
    starts = [
        datetime.fromisoformat(line["ts"])
        for line in stack.host_log_lines()
        if line.get("message") == "invocation.started" and line.get("message_id") == message_id
    ]
    assert len(starts) == 2, starts
    # (the lock ends at most LockDuration after the kill: any renewal came before it; the
    # new processor can only take it once it listens, which on a busy machine may be later)
    listening = [
        datetime.fromisoformat(line["ts"])
        for line in stack.host_log_lines()
        if line.get("message") == "servicebus.listening"
        and datetime.fromisoformat(line["ts"]) > killed_at
    ]
    available = max(killed_at + timedelta(seconds=LOCK_SECONDS), min(listening))
    redelivered_after = (starts[1] - available).total_seconds()
    assert redelivered_after < 3, (
        f"redelivered {redelivered_after:.1f}s after the lock expired and a processor listened"
    )
    time.sleep(1)
    assert len(stored(stack, user_id)) == 1


def test_the_auth0_stand_in_accepts_the_generated_client_credentials(stack):
    # Given the stack's settings: generated credentials pointing at the stand-in it started
    values = stack.values
    token_request = {
        "grant_type": "client_credentials",
        "client_id": values["AUTH0_CLIENT_ID"],
        "client_secret": values["AUTH0_CLIENT_SECRET"],
        "audience": f"https://{values['AUTH0_DOMAIN']}/api/v2/",
    }
    headers = {"content-type": "application/json"}
    # When the reconciler's client asks for a token
    url = f"{stack.auth0_url}/oauth/token"
    answer = http_post(url, json.dumps(token_request).encode(), headers)
    # Then it gets one, and a wrong secret does not
    assert answer.status == 200, answer.body
    assert answer.json()["access_token"]
    wrong = http_post(url, json.dumps({**token_request, "client_secret": "x"}).encode(), headers)
    assert wrong.status == 401
