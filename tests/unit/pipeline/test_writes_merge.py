"""Copies of one signup from several sources merge; racing versions leave one index entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events import validate_event
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import Entity, InMemoryTableStore, KeyRange, StoredEntity
from shared.writes import RegistrationWriter, WriteOutcome
from tests.unit.pipeline.conftest import event

BASE = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
FIELDS = ("email", "phone_number", "name", "nickname")


def copy(created: int = 0, received: int = 0, source: str = "action", **user: Any) -> Registration:
    document = event(created_at=(BASE + timedelta(minutes=created)).isoformat(), **user)
    for field in ("email", "name"):  # BASE_EVENT's values, unless this copy has its own
        if field not in user:
            document["user"].pop(field, None)
    document["source"] = source
    return Registration.from_event(
        validate_event(document),
        message_id="reg_same",
        correlation_id=f"corr-{source}-{received}",
        received_at=BASE + timedelta(minutes=received),
        processed_at=BASE,
        delivery_count=1,
    )


def test_a_later_copy_without_fields_never_blanks_them() -> None:
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)
    assert (
        writer.save(copy(received=1, email="ana@example.com", name="Ana")) is WriteOutcome.CREATED
    )
    # The reconciler (SEND_FIELDS=none) reports the same signup later: it wins, blanks nothing
    assert writer.save(copy(received=9, source="reconcile")) is WriteOutcome.UPDATED
    [row] = RegistrationReader(store).get(copy().user_id)
    assert (row.email, row.name, row.source) == ("ana@example.com", "Ana", "reconcile")
    [listed] = RegistrationReader(store).list()
    assert (listed.email, listed.source) == ("ana@example.com", "reconcile")


def test_an_older_copy_fills_what_the_stored_one_lacks() -> None:
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)
    writer.save(copy(received=9, source="event-stream", nickname="ana"))
    assert writer.save(copy(received=1, email="ana@example.com")) is WriteOutcome.MERGED
    assert writer.save(copy(received=1, email="ana@example.com")) is WriteOutcome.STALE
    [row] = RegistrationReader(store).get(copy().user_id)
    assert (row.email, row.nickname, row.source) == ("ana@example.com", "ana", "event-stream")


def test_between_two_values_the_newer_copy_wins() -> None:
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)
    writer.save(copy(received=9, name="New Name"))
    writer.save(copy(received=1, name="Old Name", email="ana@example.com"))
    [row] = RegistrationReader(store).get(copy().user_id)
    assert (row.name, row.email) == ("New Name", "ana@example.com")


def test_another_signup_replaces_the_row_whole() -> None:
    store = InMemoryTableStore()
    writer = RegistrationWriter(store)
    writer.save(copy(created=0, email="old@example.com"))
    writer.save(copy(created=30, received=31, name="Re-signed"))
    [row] = RegistrationReader(store).get(copy().user_id)
    assert (row.email, row.name) == (None, "Re-signed")


copies = st.lists(
    st.tuples(
        st.integers(0, 4),  # received minute
        st.sampled_from(["action", "first-login", "event-stream", "reconcile"]),
        st.fixed_dictionaries({}, optional={f: st.sampled_from(["x", "y"]) for f in FIELDS}),
    ),
    min_size=1,
    max_size=5,
)


def state(store: InMemoryTableStore) -> dict[tuple[str, str], dict[str, Any]]:
    volatile = {"processed_at", "delivery_count", "revision"}  # how many writes, not what
    return {
        (e["PartitionKey"], e["RowKey"]): {k: v for k, v in e.items() if k not in volatile}
        for e in store.query(KeyRange("a", "z"))
    }


@settings(max_examples=150, deadline=None)
@given(copies, st.data())
def test_any_order_of_copies_gives_the_same_rows(copies, data) -> None:
    regs = [copy(received=received, source=source, **fields) for received, source, fields in copies]
    stores = []
    for order in (regs, data.draw(st.permutations(regs)), data.draw(st.permutations(regs))):
        store = InMemoryTableStore()
        for registration in order:
            RegistrationWriter(store).save(registration)
        stores.append(state(store))
    assert stores[0] == stores[1] == stores[2]
    # and each field holds the newest copy's non-null value
    [row] = RegistrationReader(store).get(regs[0].user_id)
    for field in FIELDS:
        holders = [r for r in regs if getattr(r, field) is not None]
        expected = max(holders, key=lambda r: r.version) if holders else None
        assert getattr(row, field) == (getattr(expected, field) if expected else None)


class Interleaving(InMemoryTableStore):
    """Runs `meanwhile` once, just before the first time-index write."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: Callable[[], object] | None = None  # its result is ignored

    def _before_index(self, entity: Entity) -> None:
        if entity["PartitionKey"].startswith("t") and self.meanwhile is not None:
            run, self.meanwhile = self.meanwhile, None
            run()

    def insert(self, entity: Entity) -> str:
        self._before_index(entity)
        return super().insert(entity)

    def upsert(self, entity: Entity) -> None:
        self._before_index(entity)
        super().upsert(entity)


def test_two_versions_racing_leave_one_index_entry() -> None:
    # Given: version A (created t0) has written its main entity, not yet its index entry,
    # when version B of the same user (created t0+30 min, newer) is written completely
    store = Interleaving()
    older, newer = copy(created=0, email="a@x.io"), copy(created=30, received=31, email="b@x.io")
    store.meanwhile = lambda: RegistrationWriter(store).save(newer)
    # When: A goes on and writes its index entry
    RegistrationWriter(store).save(older)
    # Then: only B is indexed, so the user is listed once, with B's time
    reader = RegistrationReader(store)
    assert [r.created_at for r in reader.list()] == [newer.created_at]
    assert [r.created_at for r in reader.list(verify=True)] == [newer.created_at]
    live: list[Entity] = []
    retired: list[Entity] = []
    for entry in store.query(KeyRange("t", "u")):
        (retired if entry.get("gone") else live).append(entry)
    assert len(live) == 1
    assert len(retired) == 1  # the old time's entry, retired for good


def test_a_stale_index_entry_is_never_listed_twice_and_verify_skips_it() -> None:
    # Given: a stale entry left under the old time (as a crashed writer of old code left it)
    store = InMemoryTableStore()
    older, newer = copy(created=0, email="a@x.io"), copy(created=30, received=31, email="b@x.io")
    RegistrationWriter(store).save(older)
    [stale] = list(store.query(KeyRange("t", "u")))
    RegistrationWriter(store).save(newer)
    store.upsert(stale)
    # Then: a listing names the user once; verify=True names the current entry only
    reader = RegistrationReader(store)
    assert len(list(reader.list())) == 1
    assert [r.created_at for r in reader.list(verify=True)] == [newer.created_at]


class Counting(InMemoryTableStore):
    """Counts the requests a real table would get."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, partition_key: str, row_key: str) -> StoredEntity | None:
        self.calls.append("get")
        return super().get(partition_key, row_key)

    def insert(self, entity: Entity) -> str:
        self.calls.append("insert")
        return super().insert(entity)

    def replace(self, entity: Entity, etag: str) -> str:
        self.calls.append("replace")
        return super().replace(entity, etag)

    def upsert(self, entity: Entity) -> None:
        self.calls.append("upsert")
        super().upsert(entity)


def test_a_new_signup_costs_two_requests_and_a_stale_copy_one_read() -> None:
    store = Counting()
    RegistrationWriter(store).save(copy(received=5, email="a@x.io"))
    assert store.calls == ["insert", "insert"]
    store.calls.clear()
    RegistrationWriter(store).save(copy(received=1, email="a@x.io"))
    assert store.calls == ["insert", "get"]  # older, nothing to fill: the index is not touched
