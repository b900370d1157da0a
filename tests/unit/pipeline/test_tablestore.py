"""The `TableStore` contract against the in-memory implementation."""

from __future__ import annotations

import pytest

from shared.errors import StorageUnavailable
from shared.tablestore import InMemoryTableStore, KeyRange
from tests.unit.pipeline.conftest import TableDownAtFirst
from tests.unit.pipeline.store_contract import TableStoreContract


class TestInMemoryTableStore(TableStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryTableStore:
        return InMemoryTableStore()


def test_building_a_store_does_no_set_up_the_first_write_does() -> None:
    store = InMemoryTableStore()
    assert store.get("p", "r") is None
    assert list(store.query(KeyRange("p", "q"))) == []
    assert store.creations == 0
    store.insert({"PartitionKey": "p", "RowKey": "r"})
    store.upsert({"PartitionKey": "p", "RowKey": "s"})
    assert store.creations == 1


@pytest.mark.parametrize(
    "write",
    [
        lambda store: store.insert({"PartitionKey": "p", "RowKey": "r"}),
        lambda store: store.upsert({"PartitionKey": "p", "RowKey": "r"}),
        lambda store: store.replace({"PartitionKey": "p", "RowKey": "r"}, 'W/"0"'),
    ],
)
def test_a_failed_set_up_fails_the_write_and_is_tried_again_by_the_next(write) -> None:
    store = TableDownAtFirst(failures=2)
    for _ in range(2):
        with pytest.raises(StorageUnavailable):
            write(store)
    assert len(store) == 0
    assert store.creations == 0

    store.upsert({"PartitionKey": "p", "RowKey": "r"})
    store.insert({"PartitionKey": "p", "RowKey": "s"})
    assert store.attempts == 3  # two failures, one creation, then never again
    assert store.creations == 1
    assert len(store) == 2
