"""One `TableStore` contract suite: run against the in-memory store and against Azurite.

Subclass `TableStoreContract` and provide a `store` fixture.
"""

from __future__ import annotations

import pytest

from shared.errors import EntityExists, ETagMismatch
from shared.tablestore import KeyRange


def entity(pk: str, rk: str, **columns) -> dict:
    return {"PartitionKey": pk, "RowKey": rk, **columns}


class TableStoreContract:
    def test_get_absent_is_none(self, store) -> None:
        assert store.get("p", "nothing") is None

    def test_insert_if_absent(self, store) -> None:
        etag = store.insert(entity("p", "r", value="one", count=1, flag=True))
        found = store.get("p", "r")
        assert found.etag == etag
        assert {k: found.entity[k] for k in ("value", "count", "flag")} == {
            "value": "one",
            "count": 1,
            "flag": True,
        }
        with pytest.raises(EntityExists):
            store.insert(entity("p", "r", value="two"))
        assert store.get("p", "r").entity["value"] == "one"

    def test_replace_needs_the_current_etag(self, store) -> None:
        first = store.insert(entity("p", "r", value="one"))
        second = store.replace(entity("p", "r", value="two"), first)
        assert second != first
        with pytest.raises(ETagMismatch):
            store.replace(entity("p", "r", value="stale"), first)
        assert store.get("p", "r").entity["value"] == "two"

    def test_replace_of_a_deleted_entity_is_a_mismatch(self, store) -> None:
        etag = store.insert(entity("p", "r", value="one"))
        store.delete("p", "r")
        with pytest.raises(ETagMismatch):
            store.replace(entity("p", "r", value="two"), etag)

    def test_replace_drops_columns_not_given(self, store) -> None:
        etag = store.insert(entity("p", "r", a="1", b="2"))
        store.replace(entity("p", "r", a="3"), etag)
        assert "b" not in store.get("p", "r").entity

    def test_upsert_and_delete_are_idempotent(self, store) -> None:
        store.upsert(entity("p", "r", value="one"))
        store.upsert(entity("p", "r", value="two"))
        assert store.get("p", "r").entity["value"] == "two"
        store.delete("p", "r")
        store.delete("p", "r")
        assert store.get("p", "r") is None

    def test_range_queries(self, store) -> None:
        for pk in ("t1-0", "t1-1", "t2-0", "u1"):
            for rk in ("a|x", "b|x", "b|y", "c|x"):
                store.insert(entity(pk, rk))
        keys = [(e["PartitionKey"], e["RowKey"]) for e in store.query(KeyRange("t1", "t2"))]
        assert keys == [(pk, rk) for pk in ("t1-0", "t1-1") for rk in ("a|x", "b|x", "b|y", "c|x")]
        rows = [e["RowKey"] for e in store.query(KeyRange.exactly("u1"), KeyRange("b|", "b}"))]
        assert rows == ["b|x", "b|y"]
        partitions = [
            e["PartitionKey"] for e in store.query(KeyRange("t", "u"), KeyRange("c", "d"))
        ]
        assert partitions == ["t1-0", "t1-1", "t2-0"]

    def test_none_columns_are_not_stored(self, store) -> None:
        store.insert(entity("p", "r", present="x", absent=None))
        assert "absent" not in store.get("p", "r").entity
