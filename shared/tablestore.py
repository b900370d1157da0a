"""The table store: a small interface over Table Storage, and two implementations.

`TableStore` is what the registration and failure code talk to.
`AzureTableStore` wraps one `azure.data.tables.TableClient` and converts SDK
exceptions at this boundary (see `shared.errors`); `InMemoryTableStore`
has the same semantics (ETags, insert-if-absent, key ranges) for unit tests.

Entities are flat dicts of str / int / bool values plus `PartitionKey` and
`RowKey`; None values are not stored.

Both stores create their table lazily, inside the first write (`TableSetup`),
not when they are built: a table service that is down at that moment then
fails a write with `StorageUnavailable`, which the caller's retry policy
retries like any other, and a failed creation is tried again by the next write.

In Azure the deployment creates every table and the app's identity holds a
role scoped to single tables, which does not cover Create Table (a
service-level operation): Azure answers 403. `AzureTableStore` then takes the
table as created by the deployment, logs one warning per table per process,
and writes; if the table really is missing, the write fails with
`StorageRejected` naming the table.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.errors import TABLE_ERRORS, EntityExists, ETagMismatch, StorageRejected, map_exceptions
from shared.log import log_outcome

Entity = dict[str, Any]
logger = logging.getLogger("tablestore")

# (table URL, name) pairs whose creation this process was refused: warned once each.
_refused_creations: set[tuple[str, str]] = set()
_refused_lock = threading.Lock()


@dataclass(frozen=True)
class KeyRange:
    """Half-open `[start, stop)` range of keys; `stop=None` means exactly `start`."""

    start: str
    stop: str | None = None

    @classmethod
    def exactly(cls, key: str) -> KeyRange:
        return cls(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if self.stop is None:
            return key == self.start
        return self.start <= key < self.stop


@dataclass(frozen=True)
class StoredEntity:
    """An entity as read, with the ETag a conditional replace needs."""

    entity: Entity
    etag: str


class TableStore(Protocol):
    """What the pipeline needs from a table. Errors are `shared.errors` types.

    Writes create the table first if this store has not created it yet.
    """

    def get(self, partition_key: str, row_key: str) -> StoredEntity | None:
        """Point read; None when absent."""
        ...

    def insert(self, entity: Entity) -> str:
        """Insert if absent, returning the ETag; `EntityExists` otherwise."""
        ...

    def replace(self, entity: Entity, etag: str) -> str:
        """Replace only if unchanged since `etag`; `ETagMismatch` otherwise."""
        ...

    def upsert(self, entity: Entity) -> None:
        """Insert or replace unconditionally."""
        ...

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        """Delete if present (absent is fine); with `etag`, only if unchanged (`ETagMismatch`)."""
        ...

    def query(self, partitions: KeyRange, rows: KeyRange | None = None) -> Iterator[Entity]:
        """Entities whose keys fall in the ranges, ordered by (PartitionKey, RowKey)."""
        ...


class TableSetup:
    """Creates a table once, inside the first write; a failed creation is not remembered.

    `create` must be idempotent (an existing table is success) and raise
    `shared.errors` types. There is deliberately no lock: during an outage each
    attempt may take a whole socket timeout, and concurrent writers queueing
    behind one another would spend their retry budgets waiting, so racing
    writers each try, and "already exists" counts as done.
    """

    def __init__(self, create: Callable[[], None]) -> None:
        self._create = create
        self.done = False

    def ensure(self) -> None:
        if not self.done:
            self._create()
            self.done = True


class InMemoryTableStore:
    """A `TableStore` in a dict, thread-safe, with real ETag semantics."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], StoredEntity] = {}
        self._lock = threading.Lock()
        self._versions = itertools.count(1)
        self._setup = TableSetup(self._create_table)
        self.creations = 0  # successful table creations (once, unless a creation failed)

    def _create_table(self) -> None:
        with self._lock:
            self.creations += 1

    def ensure_table(self) -> None:
        """Create the table now unless this store already did."""
        self._setup.ensure()

    def _stamp(self, entity: Entity) -> str:
        etag = f'W/"{next(self._versions)}"'
        key = (entity["PartitionKey"], entity["RowKey"])
        self._rows[key] = StoredEntity(_clean(entity), etag)
        return etag

    def get(self, partition_key: str, row_key: str) -> StoredEntity | None:
        with self._lock:
            found = self._rows.get((partition_key, row_key))
            return None if found is None else StoredEntity(dict(found.entity), found.etag)

    def insert(self, entity: Entity) -> str:
        self.ensure_table()
        with self._lock:
            if (entity["PartitionKey"], entity["RowKey"]) in self._rows:
                raise EntityExists(f"{entity['PartitionKey']}/{entity['RowKey']}")
            return self._stamp(entity)

    def replace(self, entity: Entity, etag: str) -> str:
        self.ensure_table()
        with self._lock:
            current = self._rows.get((entity["PartitionKey"], entity["RowKey"]))
            if current is None or current.etag != etag:
                raise ETagMismatch(f"{entity['PartitionKey']}/{entity['RowKey']}")
            return self._stamp(entity)

    def upsert(self, entity: Entity) -> None:
        self.ensure_table()
        with self._lock:
            self._stamp(entity)

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        with self._lock:
            current = self._rows.get((partition_key, row_key))
            if etag is not None and current is not None and current.etag != etag:
                raise ETagMismatch(f"{partition_key}/{row_key}")
            self._rows.pop((partition_key, row_key), None)

    def query(self, partitions: KeyRange, rows: KeyRange | None = None) -> Iterator[Entity]:
        with self._lock:
            hits = [
                dict(stored.entity)
                for (pk, rk), stored in sorted(self._rows.items())
                if pk in partitions and (rows is None or rk in rows)
            ]
        return iter(hits)

    def __len__(self) -> int:
        return len(self._rows)


def _clean(entity: Entity) -> Entity:
    return {key: value for key, value in entity.items() if value is not None}


def _creation_forbidden(exc: HttpResponseError) -> bool:
    """A 403 on Create Table that is about authorization, not a bad credential."""
    return exc.status_code == 403 and not isinstance(exc, ClientAuthenticationError)


def _error_code(exc: HttpResponseError) -> str:
    """The service's error code (`x-ms-error-code`), "" when it sent none."""
    # The SDK decodes it for some operations only (not for create_entity): read the header then.
    code = getattr(exc, "error_code", None)
    if code is None:
        headers = getattr(exc.response, "headers", None) or {}
        code = headers.get("x-ms-error-code")
    return str(getattr(code, "value", code) or "")


def _table_missing(exc: ResourceNotFoundError) -> bool:
    return _error_code(exc) == "TableNotFound"


def _range_filter(column: str, keys: KeyRange, name: str, params: dict[str, str]) -> str:
    if keys.stop is None:
        params[name] = keys.start
        return f"{column} eq @{name}"
    params[name + "_from"], params[name + "_to"] = keys.start, keys.stop
    return f"{column} ge @{name}_from and {column} lt @{name}_to"


class AzureTableStore:
    """A `TableStore` over one Azure Tables / Azurite table.

    The SDK's own retries are switched off by `shared.clients` so tenacity
    (`shared.retries`) is the one retry policy. SDK errors become
    `shared.errors` types through `TABLE_ERRORS`.
    """

    def __init__(self, table: TableClient) -> None:
        self._table = table
        self._setup = TableSetup(self._create_table)

    @property
    def table_name(self) -> str:
        return self._table.table_name

    def ensure_table(self) -> None:
        """Create the table unless this store already did (writes call it themselves)."""
        self._setup.ensure()

    def _create_table(self) -> None:
        # Converted like every other call: refused/reset connections, timeouts and 5xx
        # are `StorageUnavailable`, so the caller's retry policy covers the set-up too.
        with map_exceptions(TABLE_ERRORS):
            try:
                self._table.create_table()
            except ResourceExistsError:
                return
            except HttpResponseError as exc:
                if not _creation_forbidden(exc):
                    raise
                self._note_creation_refused(exc)

    def _note_creation_refused(self, exc: HttpResponseError) -> None:
        # A role scoped to one table cannot create tables; the deployment made this one.
        key = (self._table.url, self._table.table_name)
        with _refused_lock:
            if key in _refused_creations:
                return
            _refused_creations.add(key)
        log_outcome(
            logger,
            "table-create-refused",
            level=logging.WARNING,
            outcome="assumed-deployed",
            table=self._table.table_name,
            status=exc.status_code,
            error_type=_error_code(exc) or type(exc).__name__,
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Convert SDK errors of a write; a missing table is a deployment fault, said plainly."""
        with map_exceptions(TABLE_ERRORS):
            try:
                yield
            except ResourceNotFoundError as exc:
                if _table_missing(exc):
                    raise StorageRejected(
                        f"table {self._table.table_name} does not exist: deploy the "
                        "infrastructure (it creates every table) or fix the table setting"
                    ) from exc
                raise

    def get(self, partition_key: str, row_key: str) -> StoredEntity | None:
        with map_exceptions(TABLE_ERRORS):
            try:
                found = self._table.get_entity(partition_key, row_key)
            except ResourceNotFoundError:
                return None
        return StoredEntity(dict(found), str(found.metadata["etag"]))

    def insert(self, entity: Entity) -> str:
        self.ensure_table()
        with self._writing():
            return str(self._table.create_entity(_clean(entity))["etag"])

    def replace(self, entity: Entity, etag: str) -> str:
        self.ensure_table()
        with self._writing():
            try:
                result = self._table.update_entity(
                    _clean(entity),
                    mode=UpdateMode.REPLACE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceNotFoundError as exc:  # deleted since read: the ETag no longer matches
                if _table_missing(exc):
                    raise
                raise ETagMismatch("entity deleted since read") from exc
        return str(result["etag"])

    def upsert(self, entity: Entity) -> None:
        self.ensure_table()
        with self._writing():
            self._table.upsert_entity(_clean(entity), mode=UpdateMode.REPLACE)

    def delete(self, partition_key: str, row_key: str, etag: str | None = None) -> None:
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        with map_exceptions(TABLE_ERRORS):
            try:
                self._table.delete_entity(
                    partition_key, row_key, etag=etag, match_condition=condition
                )
            except ResourceNotFoundError:
                return

    def query(self, partitions: KeyRange, rows: KeyRange | None = None) -> Iterator[Entity]:
        params: dict[str, str] = {}
        clauses = [_range_filter("PartitionKey", partitions, "pk", params)]
        if rows is not None:
            clauses.append(_range_filter("RowKey", rows, "rk", params))
        with map_exceptions(TABLE_ERRORS):
            try:
                for entity in self._table.query_entities(" and ".join(clauses), parameters=params):
                    yield dict(entity)
            except ResourceNotFoundError:  # the table does not exist yet: nothing was written
                return
