"""Storage down under load (retries, dead letters, `ops dlq replay`), and delivery chaos.

- Azurite (persistent location) stopped for 30 s while signups keep coming:
  the processor retries, redelivers and dead-letters; while storage is still
  down the operator's commands answer (`ops dlq list` with the broker's
  reason, `ops status` with the counts) and `ops dlq replay` refuses, since
  its audit record cannot be written; once storage is back,
  `python -m ops dlq replay --all --yes` sends the dead letters back and
  every accepted registration is stored exactly once.
- The fast variant: Azurite stopped, a few signups dead-lettered on their
  first failed delivery, the same operator checks, then storage back, replay,
  every registration stored once.
- Duplicate and out-of-order deliveries at high concurrency: every
  registration is POSTed several times at once (broker duplicate detection)
  and also delivered straight to the queue as older and newer versions with
  their own message ids (as deliveries past the detection window, or
  replays, would be), shuffled; one entity each, holding the newest version.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue

from ingest.service import build_message
from localdev.host.process import ROOT
from localdev.servicebus.broker.broker import MAX_DELIVERY_COUNT_REASON
from localdev.settings_file import write_ops_settings
from shared import keys
from shared.events import parse_event
from tests.reliability.pipeline import (
    Ledger,
    SignedClient,
    new_event,
    queue_depth,
    send_to_queue,
    table_client,
    wait_for,
)

OUTAGE_SECONDS = 30
# Two deliveries of ~10 s of in-process retries each: a 30 s outage dead-letters messages.
DEAD_LETTER_QUICKLY = {"LockDuration": "PT10S", "MaxDeliveryCount": 2}


def replay_dead_letters(stack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", "--json", "dlq", "replay", "--all", "--yes"],
        cwd=ROOT, env=stack.environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


REFUSAL = "nothing was changed: the audit record cannot be written"


def ops_settings(stack) -> Path:
    """The settings file an operator uses for this stack's ports (what `localdev up` writes)."""
    written = write_ops_settings(
        stack.config.settings_path,
        stack.config.data_dir / "ops.settings.json",
        stack.endpoint_overrides(),
    )
    assert written is not None, "an isolated stack runs on other ports than the defaults"
    return written


def run_ops(settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ops --settings FILE ARGS`, with no app setting in the environment."""
    env = {
        k: v for k, v in os.environ.items() if k not in json.loads(settings.read_text())["Values"]
    }
    return subprocess.run(
        [sys.executable, "-m", "ops", "--settings", str(settings), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def dead_letter_reasons(stack) -> dict[int, str]:
    """The broker's dead-letter reason of every message in the DLQ, by sequence number."""
    queue = stack.values.get("REGISTRATIONS_QUEUE", "registrations")
    found: dict[int, str] = {}
    with (
        ServiceBusClient.from_connection_string(stack.servicebus_connection_string) as client,
        client.get_queue_receiver(queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver,
    ):
        while page := receiver.peek_messages(250, sequence_number=max(found, default=0) + 1):
            found.update({m.sequence_number or 0: str(m.dead_letter_reason) for m in page})
    return found


def assert_ops_answer_while_tables_are_down(stack) -> dict[str, Any]:
    """Reads answer (broker's reason, counts), replay refuses and changes nothing: the status."""
    settings = ops_settings(stack)
    listed = run_ops(settings, "dlq", "list", "--json", "--limit", "10000")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    broker = dead_letter_reasons(stack)
    assert rows, "the DLQ holds dead letters; `ops dlq list` showed none"
    for row in rows:
        # The broker dead-lettered them once the processor ran out of deliveries.
        assert row["dead_letter_reason"] == MAX_DELIVERY_COUNT_REASON, row
        assert row["dead_letter_reason"] == broker[row["sequence_number"]], row
        assert row["last_error"] is None, row
        assert row["last_error_unavailable"] is True, row
    status = run_ops(settings, "status", "--json")
    assert status.returncode == 0, status.stderr
    counts = json.loads(status.stdout)
    for key in ("active_messages", "dead_letter_messages"):
        assert type(counts[key]) is int, counts
    assert counts["dead_letter_messages"] >= len(rows), counts  # the DLQ only grows meanwhile
    refused = run_ops(settings, "dlq", "replay", "--all", "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert REFUSAL in refused.stderr
    assert refused.stdout == ""
    still = dead_letter_reasons(stack)
    assert still.items() >= broker.items(), "a refused replay took messages off the DLQ"
    return counts


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_azurite_down_30s_under_load_then_dlq_replay(fault_stack, figures):
    stack = fault_stack(queue_properties=DEAD_LETTER_QUICKLY)
    ledger = Ledger()
    client = SignedClient.for_stack(stack)
    events = [new_event() for _ in range(300)]

    def post_steadily() -> None:
        for start in range(0, len(events), 10):  # ~10 signups every 0.5 s
            ledger.post_all(client, events[start : start + 10], concurrency=10)
            time.sleep(0.5)

    poster = threading.Thread(target=post_steadily)
    poster.start()
    wait_for(lambda: ledger.statuses[202] >= 30, 60, "no registration accepted")
    # When storage is stopped for 30 s under load (its data is on disk)
    stack.azurite.stop()
    stopped = time.monotonic()
    # Then, while it is still down, messages dead-letter and the operator's commands answer
    wait_for(lambda: queue_depth(stack, dead_letters=True) > 0, 90, "nothing dead-lettered")
    assert_ops_answer_while_tables_are_down(stack)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
    stack.start_azurite()
    poster.join()
    # Then the broker drains: whatever ran out of deliveries is dead-lettered
    wait_for(lambda: queue_depth(stack) == 0, 180, "queue not drained")
    dead_letters = queue_depth(stack, dead_letters=True)
    assert dead_letters > 0, "the outage was meant to exhaust MaxDeliveryCount for some messages"
    # When the operator replays the dead-letter queue
    replay = replay_dead_letters(stack)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    # Then everything accepted is stored exactly once, and the DLQ is empty
    ledger.verify(stack, figures, timeout=180)
    assert ledger.statuses[202] == len(events), dict(ledger.statuses)
    assert queue_depth(stack, dead_letters=True) == 0


def test_azurite_down_ops_still_answer_then_dlq_replay(fault_stack, figures):
    # One delivery each: a signup's first failed delivery dead-letters it.
    stack = fault_stack(queue_properties={"LockDuration": "PT10S", "MaxDeliveryCount": 1})
    ledger = Ledger()
    events = [new_event() for _ in range(5)]
    # When storage is down and signups keep coming
    stack.azurite.stop()
    ledger.post_all(SignedClient.for_stack(stack), events, concurrency=5)
    assert ledger.statuses[202] == len(events), dict(ledger.statuses)
    # Then they are dead-lettered, and ops lists, counts and refuses to replay
    wait_for(lambda: queue_depth(stack, dead_letters=True) == len(events), 120, "not all dead")
    counts = assert_ops_answer_while_tables_are_down(stack)
    assert (counts["active_messages"], counts["dead_letter_messages"]) == (0, len(events))
    assert queue_depth(stack) == 0
    assert queue_depth(stack, dead_letters=True) == len(events)
    # When storage is back and the operator replays
    stack.start_azurite()
    replay = replay_dead_letters(stack)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    # Then every signup is stored exactly once
    ledger.verify(stack, figures, timeout=120)
    assert queue_depth(stack, dead_letters=True) == 0


def delivery(event: dict, received_at: datetime, message_id: str) -> ServiceBusMessage:
    message = build_message(parse_event(json.dumps(event)), f"corr-{message_id}", received_at)
    return ServiceBusMessage(
        message.body,
        message_id=message_id,
        content_type=message.content_type,
        subject=message.subject,
        correlation_id=message.correlation_id,
        # Copied key by key: the SDK wants a dict keyed by str | bytes.
        application_properties={
            key: value for key, value in message.application_properties.items()
        },
    )


@pytest.mark.slow
def test_duplicate_and_out_of_order_deliveries_at_high_concurrency(fault_stack, figures):
    stack = fault_stack()
    ledger = Ledger()
    client = SignedClient.for_stack(stack)
    events = [new_event() for _ in range(300)]
    now = datetime.now(UTC)
    direct: list[ServiceBusMessage] = []
    newest_email: dict[str, str] = {}
    for n, event in enumerate(events):
        user_id = event["user"]["user_id"]
        # Older versions (received earlier) and one newer version with a changed email
        for age in (3, 2, 1):
            direct.append(delivery(event, now - timedelta(hours=age), f"old{age}-{n}"))
        newer = json.loads(json.dumps(event))
        newer["user"]["email"] = f"newest-{n}@example.invalid"
        newest_email[user_id] = newer["user"]["email"]
        direct.append(delivery(newer, now + timedelta(days=1), f"new-{n}"))
        ledger.accept(event)
    random.Random(7).shuffle(direct)
    # When each signup is POSTed 3 times at once while its other versions hit the queue
    with ThreadPoolExecutor(4) as pool:
        sends = [pool.submit(send_to_queue, stack, direct[i::4]) for i in range(4)]
        ledger.post_all(client, events * 3, concurrency=32)
        for send in sends:
            send.result()
    assert ledger.statuses[202] == 3 * len(events), dict(ledger.statuses)
    # Then one entity each, holding the newest version
    wait_for(lambda: queue_depth(stack) == 0, 300, "queue not drained")
    ledger.verify(stack, figures, timeout=120)
    with table_client(stack) as table:
        for event in events:
            user_id, tenant_id = event["user"]["user_id"], event["tenant"]["id"]
            entity = table.get_entity(keys.partition_key(user_id), keys.row_key(user_id, tenant_id))
            assert entity["email"] == newest_email[user_id]
