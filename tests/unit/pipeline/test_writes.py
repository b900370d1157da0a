"""Any interleaving of duplicate and out-of-order deliveries converges to the same table."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import validate_event
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import InMemoryTableStore, KeyRange, TableStore
from shared.writes import RegistrationWriter, WriteOutcome, index_keys, main_keys
from tests.unit.pipeline.conftest import event, stored

BASE = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
# Columns that record *which delivery* wrote, not *what* was written.
EXECUTION_COLUMNS = {
    "processed_at", "delivery_count", "superseded_index_pk", "superseded_index_rk", "revision",
}  # fmt: skip


def registration(
    created_minutes: int, received_minutes: int, email: str, delivery: int = 1
) -> Registration:
    document = event(
        email=email, created_at=(BASE + timedelta(minutes=created_minutes)).isoformat()
    )
    return Registration.from_event(
        validate_event(document),
        message_id="reg_same",
        correlation_id=f"corr-{email}",
        received_at=BASE + timedelta(minutes=received_minutes),
        processed_at=datetime.now(UTC),
        delivery_count=delivery,
    )


def table_state(store: TableStore) -> dict[tuple[str, str], dict]:
    """Every entity but the index entries retired by a changed created_at (`gone`)."""
    return {
        (e["PartitionKey"], e["RowKey"]): {k: v for k, v in e.items() if k not in EXECUTION_COLUMNS}
        for e in store.query(KeyRange("a", "z"))
        if not e.get("gone")
    }


versions = st.lists(
    st.tuples(
        st.integers(0, 3), st.integers(0, 3), st.sampled_from(["a@x.io", "b@x.io", "c@x.io"])
    ),
    min_size=1,
    max_size=5,
    unique=True,
)


@settings(max_examples=150, deadline=None)
@given(versions, st.data())
def test_any_delivery_order_converges_to_the_newest_version(
    versions: list[tuple[int, int, str]], data: st.DataObject
) -> None:
    # Given: some distinct versions of one registration, each delivered 1-3 times, in any order
    deliveries = [v for v in versions for _ in range(data.draw(st.integers(1, 3)))]
    order = data.draw(st.permutations(deliveries))
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)

    # When: they are processed one after another
    for count, version in enumerate(order, start=1):
        writer.save(registration(*version, delivery=count))

    # Then: the table equals the newest version written once, alone
    newest = max((registration(*v) for v in versions), key=lambda r: r.version)
    reference = InMemoryTableStore()
    RegistrationWriter(reference).save(newest)
    assert table_state(store) == table_state(reference)
    [row] = RegistrationReader(store).get(newest.user_id)
    assert row.email == newest.email
    assert row.created_at == newest.created_at
    assert [r.version for r in RegistrationReader(store).list()] == [newest.version]


@settings(max_examples=30, deadline=None)
@given(versions)
def test_concurrent_duplicates_converge(versions) -> None:
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)
    regs = [registration(*v) for v in versions] * 3
    threads = [threading.Thread(target=writer.save, args=(r,)) for r in regs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    newest = max(regs, key=lambda r: r.version)
    [row] = RegistrationReader(store).get(newest.user_id)
    assert row.version == newest.version


def test_outcomes() -> None:
    writer = RegistrationWriter(InMemoryTableStore())
    assert writer.save(registration(0, 1, "a@x.io")) is WriteOutcome.CREATED
    assert writer.save(registration(0, 1, "a@x.io")) is WriteOutcome.UNCHANGED
    assert writer.save(registration(0, 2, "b@x.io")) is WriteOutcome.UPDATED
    assert writer.save(registration(0, 0, "c@x.io")) is WriteOutcome.STALE


def test_crash_between_main_and_index_is_repaired_by_redelivery() -> None:
    store = InMemoryTableStore()
    first = registration(0, 1, "a@x.io")
    newer = registration(5, 2, "b@x.io")
    RegistrationWriter(store).save(first)

    # Given: the newer version's main write happened, then the process died
    current = store.get(*main_keys(newer))
    assert current is not None
    pk, rk = index_keys(first)
    crashed = {**newer.to_entity(*main_keys(newer)), "revision": 2}
    store.replace({**crashed, "superseded_index_pk": pk, "superseded_index_rk": rk}, current.etag)
    # When: the message is redelivered
    assert RegistrationWriter(store).save(newer) is WriteOutcome.UNCHANGED
    # Then: the index shows only the newer version
    assert [r.email for r in RegistrationReader(store).list()] == ["b@x.io"]


def test_list_window_is_half_open_and_ordered() -> None:
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)
    for minutes in (130, 0, 59, 60, 61, 5):
        document = event(
            user_id=f"user-{minutes}", created_at=(BASE + timedelta(minutes=minutes)).isoformat()
        )
        writer.save(stored(document, BASE))
    reader = RegistrationReader(store)
    window = reader.list(since=BASE + timedelta(minutes=5), until=BASE + timedelta(minutes=61))
    assert [r.user_id for r in window] == ["user-5", "user-59", "user-60"]
    assert [r.user_id for r in reader.list()] == [f"user-{m}" for m in (0, 5, 59, 60, 61, 130)]
    assert [r.user_id for r in reader.list(limit=2)] == ["user-0", "user-5"]
    assert [r.user_id for r in reader.list(since=BASE + timedelta(minutes=61))] == [
        "user-61",
        "user-130",
    ]
    assert len(list(reader.iter_all())) == 6
