"""Storage down under load (retries, dead letters, `ops dlq replay`), and delivery chaos.

- Azurite (persistent location) stopped for 30 s while signups keep coming:
  the processor retries, redelivers and dead-letters; once storage is back,
  `python -m ops dlq replay --all --yes` sends the dead letters back and
  every accepted registration is stored exactly once.
- Duplicate and out-of-order deliveries at high concurrency: every
  registration is POSTed several times at once (broker duplicate detection)
  and also delivered straight to the queue as older and newer versions with
  their own message ids (as deliveries past the detection window, or
  replays, would be), shuffled; one entity each, holding the newest version.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from azure.servicebus import ServiceBusMessage

from ingest.service import build_message
from localdev.host.process import ROOT
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


@pytest.mark.slow
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
    stack.stop_azurite()
    time.sleep(OUTAGE_SECONDS)
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
