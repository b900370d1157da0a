"""What every fault scenario needs: signed clients, a ledger of accepted ids, a table audit.

The one question each scenario answers is the same: is every registration
ingest ACCEPTED (202) in the table exactly once at the end? `Ledger` records
what was accepted, `audit_table` reads what the table holds, and
`Ledger.verify` compares them and reports lost/duplicated to the figures.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.data.tables import TableClient
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue

from ops.ingest_client import synthetic_event
from shared.ids import registration_id
from shared.signing import signed_headers

TENANT = "reliability"


def new_event(user_id: str | None = None, tenant_id: str = TENANT, **user: Any) -> dict:
    """ops' synthetic v1 event, with a unique user id unless one is given and `user` overrides."""
    event = synthetic_event(tenant_id, user_id or f"auth0|rel-{uuid.uuid4().hex[:20]}")
    event["user"].update(user)
    return event


@dataclass(frozen=True)
class Answer:
    """One HTTP answer (status 0: no answer, the connection failed)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30.0) -> Answer:
    """POST and return the answer; HTTP errors are answers, a dead socket is status 0."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), dict(error.headers))
    except (urllib.error.URLError, OSError):
        return Answer(0)


class SignedClient:
    """Posts events the way the Auth0 Action does: function key + Standard Webhooks headers."""

    def __init__(self, url: str, function_key: str, secret: str) -> None:
        self.url = url
        self.function_key = function_key
        self.secret = secret.split()[0]

    @classmethod
    def for_stack(cls, stack: Any, url: str | None = None) -> SignedClient:
        return cls(url or stack.ingest_url, stack.function_key, stack.webhook_secret)

    def headers(self, body: str, webhook_id: str, moment: datetime | None = None) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-functions-key": self.function_key,
            **signed_headers(body, self.secret, webhook_id, moment),
        }

    def post(self, event: dict) -> Answer:
        body = json.dumps(event)
        user = event["user"]
        webhook_id = registration_id(event["tenant"]["id"], user["user_id"], user["created_at"])
        return http_post(self.url, body.encode(), self.headers(body, webhook_id))

    def post_until_answered(self, event: dict, budget: float = 120.0) -> Answer:
        """Re-send after 503 or a dead socket, like the Action's bounded retries (re-signed)."""
        deadline = time.monotonic() + budget
        while True:
            answer = self.post(event)
            if answer.status not in (0, 503) or time.monotonic() > deadline:
                return answer
            time.sleep(0.5)


@dataclass
class Ledger:
    """The registrations ingest accepted (202), by (tenant, user id), and every status seen."""

    accepted: set[tuple[str, str]] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: dict, answer: Answer) -> None:
        with self._lock:
            self.statuses[answer.status] += 1
            if answer.status == 202:
                self.accepted.add((event["tenant"]["id"], event["user"]["user_id"]))

    def accept(self, event: dict) -> None:
        """A registration that reached the queue without ingest (sent straight to the broker)."""
        with self._lock:
            self.accepted.add((event["tenant"]["id"], event["user"]["user_id"]))

    def post_all(
        self, client: SignedClient, events: Iterable[dict], concurrency: int = 16,
        retry: bool = True,
    ) -> None:  # fmt: skip
        """POST every event on `concurrency` threads, recording each final answer."""

        def one(event: dict) -> None:
            answer = client.post_until_answered(event) if retry else client.post(event)
            self.record(event, answer)

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, events))

    def verify(self, stack: Any, figures: Any, timeout: float = 120.0) -> TableAudit:
        """Wait until every accepted registration is stored, then assert exactly once each."""
        deadline = time.monotonic() + timeout
        while True:
            audit = audit_table(stack)
            missing = self.accepted - set(audit.main)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        duplicated = {
            k for k in self.accepted if audit.main.get(k, 0) > 1 or audit.index.get(k, 0) > 1
        }
        figures.add(accepted=len(self.accepted), lost=len(missing), duplicated=len(duplicated))
        assert not missing, (
            f"{len(missing)} accepted registrations lost, e.g. {sorted(missing)[:3]}"
        )
        assert not duplicated, f"{len(duplicated)} stored more than once: {sorted(duplicated)[:3]}"
        unexpected = set(audit.main) - self.accepted
        assert not unexpected, (
            f"{len(unexpected)} stored but never accepted: {sorted(unexpected)[:3]}"
        )
        return audit  # fmt: skip


@dataclass
class TableAudit:
    """How many registration and time-index entities the table holds per (tenant, user)."""

    main: Counter[tuple[str, str]]
    index: Counter[tuple[str, str]]
    entities: list[dict]


def table_client(stack: Any) -> TableClient:
    return TableClient.from_connection_string(
        stack.tables_connection_string, stack.values.get("REGISTRATIONS_TABLE", "registrations")
    )


def audit_table(stack: Any) -> TableAudit:
    """Read the whole registrations table once (scenarios write at most a few thousand rows)."""
    main: Counter[tuple[str, str]] = Counter()
    index: Counter[tuple[str, str]] = Counter()
    with table_client(stack) as table:
        entities = [dict(e) for e in table.list_entities()]
    for entity in entities:
        key = (str(entity.get("tenant_id")), str(entity.get("user_id")))
        (main if entity["PartitionKey"].startswith("u") else index)[key] += 1
    return TableAudit(main, index, entities)


def queue_depth(stack: Any, dead_letters: bool = False) -> int:
    """Messages on the registrations queue (or its dead-letter queue), by peeking."""
    queue = stack.values.get("REGISTRATIONS_QUEUE", "registrations")
    sub_queue = ServiceBusSubQueue.DEAD_LETTER if dead_letters else None
    with (
        ServiceBusClient.from_connection_string(stack.servicebus_connection_string) as client,
        client.get_queue_receiver(queue, sub_queue=sub_queue) as receiver,
    ):
        count, sequence = 0, 0
        while batch := receiver.peek_messages(max_message_count=250, sequence_number=sequence):
            count += len(batch)
            sequence = max(m.sequence_number or 0 for m in batch) + 1
        return count


def send_to_queue(stack: Any, messages: list[ServiceBusMessage]) -> None:
    """Send straight to the registrations queue (duplicate and out-of-order deliveries)."""
    queue = stack.values.get("REGISTRATIONS_QUEUE", "registrations")
    with (
        ServiceBusClient.from_connection_string(stack.servicebus_connection_string) as client,
        client.get_queue_sender(queue) as sender,
    ):
        for start in range(0, len(messages), 100):
            sender.send_messages(messages[start : start + 100])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f}s")
        time.sleep(0.25)
