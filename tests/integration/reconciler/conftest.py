"""A reconciler over the Auth0 stand-in (real SDK, real sockets) and in-memory project stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from localdev.auth0.runner import ThreadedStandIn
from reconciler.checkpoint import CheckpointStore
from reconciler.known import TableKnownProblems
from reconciler.management import ManagementApiSearch, build_user_search
from reconciler.service import Reconciler
from reconciler.throttle import RequestCeiling
from shared.events import parse_event
from shared.failures import FailureLog
from shared.publisher import InMemoryPublisher, RegistrationPublisher
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import InMemoryTableStore
from shared.tombstones import TombstoneStore
from shared.writes import RegistrationWriter
from tests.integration.auth0.standin import TENANT_ID, standin_settings


@pytest.fixture
def app_values(
    tables_connection_string: str,
    table_name_factory: Callable[[str], str],
    servicebus_factory: Callable[..., Any],
) -> Callable[[str], dict[str, str]]:
    """Factory: the app settings for fresh tables and a fresh emulator queue named `queue`."""

    def build(queue: str) -> dict[str, str]:
        emulator = servicebus_factory(queues={queue: {}})
        return {
            "TablesConnection": tables_connection_string,
            "ServiceBusConnection": emulator.connection_string,
            "REGISTRATIONS_QUEUE": queue,
            "REGISTRATIONS_TABLE": table_name_factory("reg"),
            "FAILURES_TABLE": table_name_factory("fail"),
            "TOMBSTONES_TABLE": table_name_factory("tomb"),
            "SEND_FIELDS": "none",
        }

    return build


@dataclass
class Rig:
    """One reconciler and everything it reads and writes, for assertions."""

    reconciler: Reconciler
    search: ManagementApiSearch
    publisher: InMemoryPublisher
    registrations: InMemoryTableStore
    failures: FailureLog
    tombstones: TombstoneStore
    checkpoints: CheckpointStore
    dead_letters: set[str] = field(default_factory=set)

    def store(self, message_body: str, message_id: str) -> None:
        """Write a registration as the processor would (the table now holds it)."""
        now = datetime.now(UTC)
        registration = Registration.from_event(
            parse_event(message_body), message_id=message_id, correlation_id="c" * 32,
            received_at=now, processed_at=now, delivery_count=1,
        )  # fmt: skip
        RegistrationWriter(self.registrations).save(registration)

    def enqueued_user_ids(self) -> list[str]:
        return [parse_event(m.body).user_id for m in self.publisher.messages]


@pytest.fixture
def rig_factory() -> Iterator[Callable[..., Rig]]:
    """Build a `Rig` against a running stand-in with a given ceiling (requests/s)."""
    made: list[ManagementApiSearch] = []

    def make(
        server: ThreadedStandIn,
        max_rps: float = 1000.0,
        publisher: RegistrationPublisher | None = None,
    ) -> Rig:
        settings = standin_settings(server)
        search = build_user_search(settings, RequestCeiling(max_rps))
        made.append(search)
        registrations, failures_store = InMemoryTableStore(), InMemoryTableStore()
        tombstone_store = InMemoryTableStore()
        tombstones = TombstoneStore(tombstone_store)
        dead: set[str] = set()
        memory = InMemoryPublisher()
        reconciler = Reconciler(
            search=search,
            reader=RegistrationReader(registrations),
            publisher=publisher or memory,
            known_problems=TableKnownProblems(lambda: set(dead), failures_store, tombstone_store),
            tenant_id=TENANT_ID,
            send_fields=frozenset({"email"}),
        )
        return Rig(
            reconciler, search, memory, registrations, FailureLog(failures_store), tombstones,
            CheckpointStore(InMemoryTableStore()), dead,
        )  # fmt: skip

    yield make
    for search in made:
        search.close()
