"""The erasure's conditional delete, on Azurite and in memory alike."""

from __future__ import annotations

import pytest

from shared.errors import ETagMismatch
from shared.tablestore import InMemoryTableStore, TableStore
from tests.integration.pipeline.conftest import make_store


@pytest.fixture(params=["azurite", "memory"])
def store(request, tables_connection_string, table_name_factory) -> TableStore:
    if request.param == "memory":
        return InMemoryTableStore()
    return make_store(tables_connection_string, table_name_factory("del"))


def test_delete_with_an_etag_deletes_only_the_version_that_was_read(store: TableStore) -> None:
    first = store.insert({"PartitionKey": "u00", "RowKey": "a", "n": 1})
    second = store.replace({"PartitionKey": "u00", "RowKey": "a", "n": 2}, first)

    with pytest.raises(ETagMismatch):
        store.delete("u00", "a", etag=first)
    assert store.get("u00", "a") is not None

    store.delete("u00", "a", etag=second)
    assert store.get("u00", "a") is None
    store.delete("u00", "a", etag=second)  # absent is fine, as without an etag
    store.delete("u00", "a")
