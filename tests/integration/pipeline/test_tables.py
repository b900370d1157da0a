"""The table store, the idempotent writer and the reader against real Azurite with the real SDK."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.registrations import Registration, RegistrationReader
from shared.tablestore import KeyRange
from shared.writes import RegistrationWriter, WriteOutcome
from tests.integration.pipeline.conftest import make_store
from tests.unit.pipeline.conftest import event, stored
from tests.unit.pipeline.store_contract import TableStoreContract
from tests.unit.pipeline.test_writes import BASE, EXECUTION_COLUMNS, registration, versions


class TestAzureTableStore(TableStoreContract):
    @pytest.fixture
    def store(self, store_factory):
        return store_factory()


def user_registration(
    user_id: str, email: str, created: datetime, received: datetime
) -> Registration:
    return stored(event(user_id=user_id, email=email, created_at=created.isoformat()), received)


def test_hostile_ids_long_strings_and_metadata_round_trip(store_factory) -> None:
    store = store_factory()
    writer, reader = RegistrationWriter(store), RegistrationReader(store)
    hostile = ["a/b\\c#d?e", "tab\tnew\nline\x00nul\x7f\u0085", "zoë|ü|日本|😀", "~%7C", "x" * 1000]
    long_name = "Zoë 😀 " * 8000  # 56,000 characters, beyond one 64 KiB property
    for user_id in hostile:
        document = event(user_id=user_id, name=long_name, user_metadata={"k": "v" * 40_000})
        writer.save(stored(document, BASE))
    for user_id in hostile:
        [row] = reader.get(user_id)
        assert row.user_id == user_id
        assert row.name == long_name
        assert row.user_metadata == {"k": "v" * 40_000}
        assert reader.get(user_id, "acme-prod") == [row]
        assert reader.get(user_id, "other-tenant") == []
    assert len(list(reader.iter_all())) == len(hostile)


def test_time_window_reads_only_index_partitions(store_factory) -> None:
    store = store_factory()
    writer, reader = RegistrationWriter(store), RegistrationReader(store)
    for minutes in (0, 59, 60, 61, 24 * 60, 24 * 60 * 40):
        created = BASE + timedelta(minutes=minutes)
        writer.save(user_registration(f"user-{minutes}", "a@x.io", created, created))
    window = reader.list(
        since=BASE + timedelta(minutes=59), until=BASE + timedelta(days=1, minutes=1)
    )
    assert [r.user_id for r in window] == ["user-59", "user-60", "user-61", "user-1440"]
    assert [r.user_id for r in reader.list(limit=3)] == ["user-0", "user-59", "user-60"]
    assert [r.user_id for r in reader.list(since=BASE + timedelta(days=2))] == ["user-57600"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(versions, st.data())
def test_any_delivery_order_converges_on_azurite(store_factory, versions, data) -> None:
    deliveries = [v for v in versions for _ in range(data.draw(st.integers(1, 2)))]
    store = store_factory()
    writer = RegistrationWriter(store)
    for version in data.draw(st.permutations(deliveries)):
        writer.save(registration(*version))
    newest = max((registration(*v) for v in versions), key=lambda r: r.version)
    rows = [row for row in store.query(KeyRange("a", "z")) if not row.get("gone")]
    assert len(rows) == 2  # one registration entity, one live index entity
    for row in rows:
        assert row["version"] == newest.version
        assert row["email"] == newest.email
    assert (
        set(rows[0]) - EXECUTION_COLUMNS - {"main_pk", "main_rk"}
        == set(newest.to_entity("p", "r")) - EXECUTION_COLUMNS
    )


def test_concurrent_conditional_writes_leave_one_entity_with_the_newest_version(
    tables_connection_string, table_name_factory
) -> None:
    # Given: 8 threads, each with its own client, writing 4 versions of one registration twice
    table = table_name_factory("race")
    stores = [make_store(tables_connection_string, table) for _ in range(8)]
    user = f"race-{uuid.uuid4().hex[:8]}"
    regs = [
        user_registration(user, f"v{n}@x.io", BASE, BASE + timedelta(seconds=n)) for n in range(4)
    ]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []
    outcomes: list[WriteOutcome] = []

    def write(reg: Registration, store) -> None:
        barrier.wait()
        try:
            outcomes.append(RegistrationWriter(store).save(reg))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(regs[n % 4], store)) for n, store in enumerate(stores)
    ]
    # When: they all write at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then: exactly one registration entity and one index entity, both the newest version
    assert errors == []
    assert outcomes.count(WriteOutcome.CREATED) == 1  # insert-if-absent held under the race
    rows = list(stores[0].query(KeyRange("a", "z")))
    assert len(rows) == 2
    assert {row["email"] for row in rows} == {"v3@x.io"}
