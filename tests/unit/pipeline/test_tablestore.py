"""The `TableStore` contract against the in-memory implementation."""

from __future__ import annotations

import pytest

from shared.tablestore import InMemoryTableStore
from tests.unit.pipeline.store_contract import TableStoreContract


class TestInMemoryTableStore(TableStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryTableStore:
        return InMemoryTableStore()
