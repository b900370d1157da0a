"""A Service Bus emulator + Azurite environment for `python -m ops`, and helpers to drive it.

`ops_env()` starts a fresh emulator (queue `registrations`, short lock) and
writes a local.settings.json pointing at it and at unique Azurite tables.
Helpers seed the DLQ the way production fills it (ingest-shaped messages,
dead-lettered by the broker), drain the queue with the real processor
service, and run the CLI as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.exceptions import MessageLockLostError

from processor.service import IncomingMessage, RegistrationProcessor
from shared.events import canonical_json
from shared.failures import FailureLog
from shared.ids import registration_id
from shared.registrations import RegistrationReader
from shared.tablestore import AzureTableStore
from shared.writes import RegistrationWriter

ROOT = Path(__file__).resolve().parents[3]
QUEUE = "registrations"
TENANT = "acme-prod"
# Settings ops must only ever take from the file the test wrote.
_SETTING_NAMES = (
    "ServiceBusConnection",
    "ServiceBusConnection__fullyQualifiedNamespace",
    "TablesConnection",
    "TablesConnection__tableServiceUri",
    "REGISTRATIONS_QUEUE",
    "REGISTRATIONS_TABLE",
    "FAILURES_TABLE",
    "AUDIT_TABLE",
    "WEBHOOK_SECRET",
    "LOCALDEV_FUNCTION_KEY",
    "FUNCTION_KEY",
)


def event(user_id: str, created_at: str = "2026-11-26T03:00:00.000Z") -> dict[str, Any]:
    return {
        "type": "user.registered",
        "schema_version": 1,
        "tenant": {"id": TENANT},
        "connection": {"id": "con_1", "name": "Username-Password-Authentication"},
        "user": {
            "user_id": user_id,
            "email": f"{user_id[-8:]}@example.com",
            "created_at": created_at,
        },
    }


def ingest_message(user_id: str) -> ServiceBusMessage:
    """A message shaped like ingest's (deterministic registration id, properties)."""
    return ServiceBusMessage(
        canonical_json(event(user_id)),
        message_id=registration_id(TENANT, user_id, event(user_id)["user"]["created_at"]),
        content_type="application/json",
        subject="user.registered",
        correlation_id=f"corr-{user_id[-6:]}",
        application_properties={
            "schema_version": 1,
            "tenant": TENANT,
            "correlation_id": f"corr-{user_id[-6:]}",
        },
    )


@dataclass
class OpsEnv:
    """One emulator + a set of Azurite tables + the settings file ops reads."""

    connection_string: str
    tables_connection_string: str
    settings_path: Path
    registrations_table: str
    failures_table: str
    audit_table: str
    tmp: Path

    def client(self) -> ServiceBusClient:
        return ServiceBusClient.from_connection_string(self.connection_string)

    def ops(
        self, *args: str, timeout: float = 300, **popen: Any
    ) -> subprocess.CompletedProcess[str]:
        """`python -m ops --settings <file> ARGS` in a clean environment."""
        return run_ops(*args, settings=self.settings_path, timeout=timeout, **popen)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "ops", "--settings", str(self.settings_path), *args]

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        done = self.ops(*args, "--json")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    # -- seeding and draining -------------------------------------------------------------

    def send(self, messages: Iterable[ServiceBusMessage]) -> None:
        with self.client() as client, client.get_queue_sender(QUEUE) as sender:
            batch = sender.create_message_batch()
            for message in messages:
                try:
                    batch.add_message(message)
                except Exception:
                    sender.send_messages(batch)
                    batch = sender.create_message_batch()
                    batch.add_message(message)
            if len(batch):
                sender.send_messages(batch)

    def dead_letter_all(self, reason: str, description: str, expected: int) -> None:
        """Receive `expected` messages from the queue and dead-letter each explicitly."""
        done = 0
        with self.client() as client, client.get_queue_receiver(QUEUE) as receiver:
            while done < expected:
                # Small batches: with the short locks some tests use, a large batch settled
                # one by one on a loaded machine outlives its locks.
                received = receiver.receive_messages(max_message_count=20, max_wait_time=10)
                assert received, f"only {done} of {expected} messages arrived"
                for message in received:
                    try:
                        receiver.dead_letter_message(
                            message, reason=reason, error_description=description
                        )
                    except MessageLockLostError:
                        continue  # the lock expired: the message comes back and is taken again
                    done += 1

    def seed(self, user_ids: list[str], reason: str = "ProcessingFailed") -> None:
        self.send(ingest_message(u) for u in user_ids)
        self.dead_letter_all(reason, "StorageUnavailable: table answered 503", len(user_ids))

    def peek(self, sub_queue: ServiceBusSubQueue | None = None) -> list[Any]:
        with self.client() as client, client.get_queue_receiver(QUEUE, sub_queue=sub_queue) as r:
            found: list[Any] = []
            while True:
                page = r.peek_messages(
                    250, sequence_number=found[-1].sequence_number + 1 if found else 1
                )
                if not page:
                    return found
                found += page

    def drain(self, processor: RegistrationProcessor, idle_seconds: float = 3) -> list[str]:
        """Process every message of the main queue with the real processor; their ids."""
        processed: list[str] = []
        with self.client() as client, client.get_queue_receiver(QUEUE) as receiver:
            while True:
                # Small batches: each is processed well inside the queue's short test lock,
                # even on a busy machine.
                received = receiver.receive_messages(
                    max_message_count=10, max_wait_time=idle_seconds
                )
                if not received:
                    return processed
                for message in received:
                    processor.process(to_incoming(message))
                    receiver.complete_message(message)
                    processed.append(str(message.message_id))

    def processor(self) -> RegistrationProcessor:
        service = TableServiceClient.from_connection_string(self.tables_connection_string)
        registrations = AzureTableStore(service.get_table_client(self.registrations_table))
        failures = AzureTableStore(service.get_table_client(self.failures_table))
        registrations.ensure_table()
        failures.ensure_table()
        return RegistrationProcessor(RegistrationWriter(registrations), FailureLog(failures))

    def reader(self) -> RegistrationReader:
        service = TableServiceClient.from_connection_string(self.tables_connection_string)
        return RegistrationReader(
            AzureTableStore(service.get_table_client(self.registrations_table))
        )

    def failure_log(self) -> FailureLog:
        service = TableServiceClient.from_connection_string(self.tables_connection_string)
        store = AzureTableStore(service.get_table_client(self.failures_table))
        store.ensure_table()
        return FailureLog(store)


def to_incoming(message: Any) -> IncomingMessage:
    properties = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in (message.application_properties or {}).items()
    }
    return IncomingMessage(
        body=b"".join(message.body),
        message_id=str(message.message_id),
        delivery_count=message.delivery_count or 0,
        application_properties=properties,
        correlation_id=message.correlation_id,
        enqueued_time=message.enqueued_time_utc,
    )


def clean_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_ops(
    *args: str, settings: Path | None = None, cwd: Path = ROOT, timeout: float = 60, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """`python -m ops [--settings FILE] ARGS` in a clean environment, output captured."""
    chosen = ["--settings", str(settings)] if settings is not None else []
    return subprocess.run(
        [sys.executable, "-m", "ops", *chosen, *args],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **popen,
    )


@pytest.fixture
def ops_env(
    servicebus_factory: Callable[..., Any],
    tables_connection_string: str,
    table_name_factory: Callable[[str], str],
    tmp_path: Path,
) -> Callable[..., OpsEnv]:
    """Factory: `ops_env(lock="PT5S", max_delivery=3)` -> a fresh OpsEnv."""

    def make(lock: str = "PT5S", max_delivery: int = 3) -> OpsEnv:
        emulator = servicebus_factory(
            queues={QUEUE: {"LockDuration": lock, "MaxDeliveryCount": max_delivery}}
        )
        env = OpsEnv(
            connection_string=emulator.connection_string,
            tables_connection_string=tables_connection_string,
            settings_path=tmp_path / "local.settings.json",
            registrations_table=table_name_factory("reg"),
            failures_table=table_name_factory("fail"),
            audit_table=table_name_factory("audit"),
            tmp=tmp_path,
        )
        values = {
            "ServiceBusConnection": env.connection_string,
            "TablesConnection": tables_connection_string,
            "REGISTRATIONS_QUEUE": QUEUE,
            "REGISTRATIONS_TABLE": env.registrations_table,
            "FAILURES_TABLE": env.failures_table,
            "AUDIT_TABLE": env.audit_table,
        }
        env.settings_path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
        return env

    return make
