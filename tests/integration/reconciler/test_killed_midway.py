"""`python -m ops reconcile` SIGKILLed while it enqueues, then run again: nothing lost, none twice.

A real child process against the Auth0 stand-in (thousands of users, a low
RECONCILE_MAX_RPS so the run lasts several seconds), Azurite and the Service
Bus emulator. The queue is drained through the processor after each run, so
the table is what a deployment would hold.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusReceivedMessage

from processor.service import IncomingMessage
from shared.ids import registration_id
from shared.runtime import AppContext
from shared.settings import Settings
from tests.integration.auth0.standin import HOUR, TENANT_ID, running_standin, seed_users
from tests.integration.auth0.standin import standin_settings as auth0_settings

pytestmark = pytest.mark.timeout(420)
ROOT = Path(__file__).parents[3]
QUEUE = "killedq"
USERS = 3000
MAX_RPS = 4.0  # 34 searches for 3,000 users: about 9 s of listing
KILL_AFTER = 200  # messages in the queue: the run is enqueueing its first windows
PROCESSOR_CALLS = 16  # concurrent processor calls while draining


@pytest.fixture
def values(app_values) -> dict[str, str]:
    """App settings for fresh tables and a fresh emulator queue."""
    return {**app_values(QUEUE), "RECONCILE_MAX_RPS": str(MAX_RPS)}


@pytest.fixture
def processor_context(values) -> Iterator[AppContext]:
    """The processor as the app builds it, over the same tables and queue."""
    context = AppContext(Settings.model_validate(values))
    yield context
    context.service_bus_client.close()
    context.table_service_client.close()


def reconcile_command(settings_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "ops", "--settings", str(settings_file), "reconcile", "--json",
        "--since", "2026-11-26T03:00:00Z", "--until", "2026-11-26T04:00:00Z",
    ]  # fmt: skip


def queued(client: ServiceBusClient) -> int:
    """Messages in the queue, up to KILL_AFTER (peeked: nothing is locked)."""
    with client.get_queue_receiver(QUEUE) as receiver:
        return len(receiver.peek_messages(max_message_count=KILL_AFTER, sequence_number=1))


def drain_through_processor(context: AppContext) -> list[str]:
    """Receive until the queue is empty, process and complete each; the message ids seen.

    Messages of a batch are processed side by side, as the host runs concurrent calls.
    """
    seen: list[str] = []
    processor = context.processor
    client = context.service_bus_client
    with (
        client.get_queue_receiver(QUEUE, max_wait_time=3) as receiver,
        ThreadPoolExecutor(PROCESSOR_CALLS) as pool,
    ):
        while batch := receiver.receive_messages(max_message_count=100, max_wait_time=3):
            list(pool.map(lambda message: processor.process(incoming(message)), batch))
            for message in batch:
                receiver.complete_message(message)
                seen.append(str(message.message_id))
    return seen


def incoming(message: ServiceBusReceivedMessage) -> IncomingMessage:
    return IncomingMessage(
        body=b"".join(message.body),
        message_id=str(message.message_id),
        delivery_count=(message.delivery_count or 0) + 1,  # the SDK counts from 0, Functions 1
        application_properties={
            (k.decode() if isinstance(k, bytes) else k): v
            for k, v in (message.application_properties or {}).items()
        },
        correlation_id=message.correlation_id,
        enqueued_time=message.enqueued_time_utc,
    )


def last_json_line(output: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return document


def test_a_run_killed_midway_and_run_again_loses_nothing(values, processor_context, tmp_path):
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text('{"Values": {}}', encoding="utf-8")
    with running_standin() as server:
        users = seed_users(server, USERS, HOUR, timedelta(hours=1))
        auth0 = auth0_settings(server).model_dump(by_alias=True, exclude_unset=True)
        secret = auth0_settings(server).auth0_client_secret.get_secret_value()
        env = {**os.environ, **values, **auth0, "AUTH0_CLIENT_SECRET": secret}
        command = reconcile_command(settings_file)

        # Given a reconcile run SIGKILLed while it enqueues
        first = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 180
        client = processor_context.service_bus_client
        while queued(client) < KILL_AFTER and first.poll() is None:
            assert time.monotonic() < deadline, "the first run enqueued nothing in 180 s"
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        _, first_err = first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL, first_err.decode()
        # What it enqueued before dying is processed, as the app would
        before = drain_through_processor(processor_context)
        assert KILL_AFTER <= len(before) < USERS  # midway: some enqueued, not all

        # When the same command runs again, to completion
        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300)
        assert second.returncode == 0, second.stderr.decode()
        report = last_json_line(second.stdout.decode())
        after = drain_through_processor(processor_context)

    # Then every user was enqueued, what was stored is not enqueued again, and the
    # table holds each user exactly once, under the id the Action would have used
    expected = {registration_id(TENANT_ID, u["user_id"], u["created_at"]) for u in users}
    assert (report["complete"], report["scanned"]) == (True, USERS)
    assert (report["already_stored"], report["enqueued"]) == (len(before), USERS - len(before))
    assert set(before) | set(after) == expected
    assert len(before) + len(after) == USERS  # no message delivered twice
    rows = list(
        processor_context.registration_reader.list(since=HOUR, until=HOUR + timedelta(hours=1))
    )
    assert len(rows) == USERS
    assert {row.message_id for row in rows} == expected
    assert {row.source for row in rows} == {"reconcile"}
