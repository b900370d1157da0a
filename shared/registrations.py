"""Registration rows: the model readers see, its entity form, and the reader API.

`RegistrationReader` (get / list / iter_all) is what `python -m ops` and any
downstream Python reader use; docs/table-schema.md describes the same table
for other languages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared import columns, keys
from shared.events import DEFAULT_SOURCE, RegistrationEvent, User
from shared.tablestore import Entity, KeyRange, TableStore

MAIN_PARTITIONS = KeyRange("u", "v")  # every registration entity, never the index
INDEX_PARTITIONS = KeyRange("t", "u")  # every time-index entity


class Registration(BaseModel):
    """One registration as stored: payload fields plus provenance."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    user_id: str
    created_at: datetime
    email: str | None = None
    email_verified: bool | None = None
    phone_number: str | None = None
    phone_verified: bool | None = None
    username: str | None = None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    nickname: str | None = None
    picture: str | None = None
    user_metadata: dict[str, Any] | None = None
    app_metadata: dict[str, Any] | None = None
    connection_id: str | None = None
    connection_name: str | None = None
    connection_strategy: str | None = None
    request_ip: str | None = None
    request_language: str | None = None
    request_hostname: str | None = None
    request_user_agent: str | None = None
    # provenance
    message_id: str
    correlation_id: str
    received_at: datetime
    processed_at: datetime
    schema_version: int
    payload_hash: str
    delivery_count: int
    source: str = DEFAULT_SOURCE  # which path reported it (payload `source`)
    trace_id: str | None = None  # the W3C trace the message travelled in

    @classmethod
    def from_event(
        cls,
        event: RegistrationEvent,
        *,
        message_id: str,
        correlation_id: str,
        received_at: datetime,
        processed_at: datetime,
        delivery_count: int,
        trace_id: str | None = None,
    ) -> Registration:
        """The row an event becomes."""
        user, connection, request = event.user, event.connection, event.request
        return cls(
            tenant_id=event.tenant_id,
            user_id=user.user_id,
            created_at=user.created_at,
            **user.model_dump(include=set(_USER_COLUMNS)),
            connection_id=connection.id if connection else None,
            connection_name=connection.name if connection else None,
            connection_strategy=connection.strategy if connection else None,
            request_ip=request.ip if request else None,
            request_language=request.language if request else None,
            request_hostname=request.hostname if request else None,
            request_user_agent=request.user_agent if request else None,
            message_id=message_id,
            correlation_id=correlation_id,
            received_at=received_at,
            processed_at=processed_at,
            schema_version=event.schema_version,
            payload_hash=event.payload_hash(),
            delivery_count=delivery_count,
            source=event.origin,
            trace_id=trace_id,
        )

    @property
    def version(self) -> str:
        """The total order that decides which of two writes wins (greater is newer).

        `iso(created_at) | iso(received_at) | payload_hash`: fixed-width text, so
        comparing the strings compares the tuple.
        """
        return "|".join((keys.iso(self.created_at), keys.iso(self.received_at), self.payload_hash))

    def to_entity(self, partition_key: str, row_key: str) -> Entity:
        """The entity form (text columns chunked, times as fixed-width ISO text)."""
        entity: Entity = {"PartitionKey": partition_key, "RowKey": row_key, "version": self.version}
        for field, value in self.model_dump(exclude_none=True).items():
            if field in _JSON_COLUMNS:
                columns.put_json(entity, field, value)
            elif isinstance(value, datetime):
                entity[field] = keys.iso(value)
            elif isinstance(value, str):
                columns.put_text(entity, field, value)
            else:
                entity[field] = value
        return entity

    @classmethod
    def from_entity(cls, entity: Entity) -> Registration:
        """Read an entity written by `to_entity` (index or main)."""
        values: dict[str, Any] = {}
        for field, info in cls.model_fields.items():
            if field in _JSON_COLUMNS:
                values[field] = columns.get_json(entity, field)
            elif info.annotation in (str, str | None):
                values[field] = columns.get_text(entity, field)
            elif field in entity:
                values[field] = entity[field]
        return cls.model_validate(values)


_JSON_COLUMNS = frozenset({"user_metadata", "app_metadata"})
# What a signup says about the user (merged across copies), as opposed to its keys and
# provenance (which copy won, when, how): see `shared.writes.merge`.
PAYLOAD_FIELDS = tuple(
    name
    for name in Registration.model_fields
    if name not in {"tenant_id", "user_id", "created_at"}
    and name not in {"message_id", "correlation_id", "received_at", "processed_at"}
    and name not in {"schema_version", "payload_hash", "delivery_count", "source", "trace_id"}
)
# The columns a signup's `user` fills one to one (its id and time are keys, set apart).
_USER_COLUMNS = frozenset(User.model_fields) - {"user_id", "created_at"}


class RegistrationReader:
    """Read registrations: point reads, time windows over the index, full export."""

    def __init__(self, store: TableStore) -> None:
        self._store = store

    def get(self, user_id: str, tenant_id: str | None = None) -> list[Registration]:
        """The user's registration in `tenant_id`, or in every tenant when None.

        With a tenant: one point GET. Without: one single-partition RowKey-prefix query.
        """
        partition = keys.partition_key(user_id)
        if tenant_id is not None:
            found = self._store.get(partition, keys.row_key(user_id, tenant_id))
            return [] if found is None else [Registration.from_entity(found.entity)]
        start, stop = keys.user_row_prefix(user_id)
        rows = self._store.query(KeyRange.exactly(partition), KeyRange(start, stop))
        return [
            registration
            for registration in map(Registration.from_entity, rows)
            if registration.user_id == user_id
        ]

    def list(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        *,
        verify: bool = False,
    ) -> Iterator[Registration]:
        """Registrations with `since <= created_at < until`, oldest first, each user once.

        One partition-range query over the time index: only the hour buckets
        in the window are read, never the registration partitions. Entries the
        writer retired (`gone`: the user's created_at changed) are skipped, and
        a listing yields each user at most once, the first entry in time order.
        `verify=True` also point-reads each hit's entity and skips entries whose
        created_at no longer matches it (one GET per row: exact, but slower).
        """
        return itertools.islice(self._list(since, until, verify=verify), limit)

    def _list(
        self, since: datetime | None, until: datetime | None, *, verify: bool
    ) -> Iterator[Registration]:
        partitions = KeyRange(
            "t" + keys.hour_bucket(since) if since else INDEX_PARTITIONS.start,
            "t" + keys.hour_bucket(until) + "." if until else INDEX_PARTITIONS.stop or "u",
        )
        rows = KeyRange(keys.iso(since) if since else "0", keys.iso(until) if until else "A")
        entities = self._store.query(partitions, rows)
        ordered = itertools.chain.from_iterable(
            sorted(hour, key=lambda entity: str(entity["RowKey"]))
            for _, hour in itertools.groupby(
                entities, key=lambda entity: entity["PartitionKey"][:11]
            )
        )
        seen: set[tuple[str, str]] = set()
        for entity in ordered:
            pointer = (str(entity.get("main_pk", "")), str(entity.get("main_rk", "")))
            if entity.get("gone") or pointer in seen:  # retired by a changed created_at
                continue
            if verify and not self._is_current(entity, pointer):
                continue
            seen.add(pointer)
            yield Registration.from_entity(entity)

    def _is_current(self, index_entity: Entity, pointer: tuple[str, str]) -> bool:
        found = self._store.get(*pointer)
        return found is not None and found.entity.get("created_at") == index_entity.get(
            "created_at"
        )

    def iter_all(self) -> Iterator[Registration]:
        """Every registration (a full scan of the registration partitions, for export)."""
        return map(Registration.from_entity, self._store.query(MAIN_PARTITIONS))
