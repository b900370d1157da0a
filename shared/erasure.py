"""Erasing a user: the deletion message, and removing every copy of the user's data.

`Eraser.erase(tenant, user, deleted_at)`, in this order:

1. records a tombstone (`shared.tombstones`) first, so every copy of the
   signup that arrives from now on, and every creation racing with this
   erasure, is a no-op (the processor checks the tombstone before and after
   its write);
2. deletes the registration entity and its time-index entries, but only when
   the stored signup was created at or before the deletion: a late duplicate
   of an old `user.deleted` never erases a later re-signup;
3. deletes the user's failure records (`FailureLog`, matched on the tenant
   and user id columns; a scan of that small table) and any other record
   holder handed in (e.g. the Event Streams rejection log);
4. completes the user's dead-lettered messages (`DeadLetterSweeper`): creations
   created at or before the deletion, and deletions of the user.

Every step is idempotent, so a crash midway is repaired by running it again
(the processor's redelivery, or the operator re-running the command). Used by
the processor for `user.deleted` messages and by `ops registrations erase`;
it imports nothing from `ops`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from shared import keys
from shared.errors import ETagMismatch, InvalidEvent, StorageUnavailable
from shared.events import MAX_ID_LENGTH, Tenant, canonical_json
from shared.failures import FailureLog
from shared.log import log_outcome
from shared.registrations import Registration
from shared.tablestore import TableStore
from shared.tombstones import TombstoneStore
from shared.writes import index_keys

DELETION_TYPE: Literal["user.deleted"] = "user.deleted"
PRUNE_INTERVAL_SECONDS = 3600.0
MAX_ERASE_ROUNDS = 8
logger = logging.getLogger("erasure")


class DeletedUser(BaseModel):
    """`user` of a deletion message: the id only."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: StrictStr = Field(min_length=1, max_length=MAX_ID_LENGTH)


class UserDeletion(BaseModel):
    """The body of a `user.deleted` message on the registrations queue (schema version 1)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["user.deleted"]
    schema_version: StrictInt = Field(ge=1, le=1)
    tenant: Tenant
    user: DeletedUser
    deleted_at: AwareDatetime
    source: StrictStr | None = None

    @field_validator("deleted_at", mode="before")
    @classmethod
    def _iso_text_only(cls, value: object) -> object:
        # Numbers would be read as epoch seconds; messages carry ISO 8601 text.
        if not isinstance(value, str | datetime):
            raise ValueError("must be an ISO 8601 date-time string with a time zone")
        return value

    @field_validator("deleted_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def of(cls, tenant_id: str, user_id: str, deleted_at: datetime, source: str) -> UserDeletion:
        """The deletion of `user_id` in `tenant_id` at `deleted_at`, reported by `source`."""
        return cls(
            type=DELETION_TYPE,
            schema_version=1,
            tenant=Tenant(id=tenant_id),
            user=DeletedUser(user_id=user_id),
            deleted_at=deleted_at,
            source=source,
        )

    def canonical_json(self) -> str:
        """Sorted keys, no whitespace, `deleted_at` as UTC ISO text with milliseconds."""
        document = self.model_dump(mode="json", exclude_none=True)
        document["deleted_at"] = _ms(self.deleted_at)
        return canonical_json(document)


def _ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_deletion(body: bytes | str) -> UserDeletion:
    """Parse a deletion message body; `InvalidEvent` naming the field, never the value."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidEvent([("body", "is not valid JSON")]) from None
    try:
        return UserDeletion.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise InvalidEvent(
            [(".".join(map(str, e["loc"])) or "body", e["msg"]) for e in errors]
        ) from None


def message_type(body: bytes | str) -> str | None:
    """The `type` of a JSON message body, None when there is none (the processor dispatches)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    kind = document.get("type") if isinstance(document, dict) else None
    return kind if isinstance(kind, str) else None


def belongs_to(body: bytes, tenant_id: str, user_id: str, up_to: datetime) -> bool:
    """True when a queued message holds this user's data from at or before `up_to`.

    A creation of the user created later (a re-signup) does not belong; a body
    that names the user but has no readable time does (it is the user's data).
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return False
    if not isinstance(document, dict):
        return False
    tenant, user = document.get("tenant"), document.get("user")
    if not (isinstance(tenant, dict) and isinstance(user, dict)):
        return False
    if tenant.get("id") != tenant_id or user.get("user_id") != user_id:
        return False
    moment = user.get("created_at") if document.get("type") != DELETION_TYPE else None
    moment = document.get("deleted_at") if document.get("type") == DELETION_TYPE else moment
    try:
        return datetime.fromisoformat(str(moment)).astimezone(UTC) <= up_to
    except ValueError:
        return True


class DeadLetterSweeper(Protocol):
    """Completes (removes for good) the dead-lettered messages a predicate selects."""

    def remove(self, selected: Callable[[bytes], bool]) -> int:
        """Remove every dead letter whose body `selected` accepts; returns how many went."""
        ...


class UserRecords(Protocol):
    """Another holder of a user's data, erased with it (e.g. rejected Event Streams deliveries)."""

    def erase_user(self, tenant_id: str, user_id: str) -> int:
        """Delete this user's records; returns how many went."""
        ...


# What `Eraser.erase` itself removes, counted in this order; other holders' counts follow.
ERASED_KINDS = ("entities", "index_entries", "failures", "dead_letters")


@dataclass(frozen=True)
class ErasureResult:
    """What one erasure removed; `deleted_at` is the tombstone's (latest) deletion time."""

    deleted_at: datetime
    entities: int = 0
    index_entries: int = 0
    failures: int = 0
    dead_letters: int = 0
    other: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Counts by kind, for logs and the audit row (no personal data)."""
        return {kind: getattr(self, kind) for kind in ERASED_KINDS} | self.other


@dataclass
class Eraser:
    """Removes a user's data everywhere the pipeline keeps it (see the module docstring)."""

    registrations: TableStore
    tombstones: TombstoneStore
    failures: FailureLog
    dead_letters: DeadLetterSweeper
    others: Mapping[str, UserRecords] = field(default_factory=dict)  # by name, for the counts
    monotonic: Callable[[], float] = time.monotonic
    _last_prune: float | None = field(default=None, init=False)

    def erase(self, tenant_id: str, user_id: str, deleted_at: datetime) -> ErasureResult:
        """Tombstone, then remove the entity, index, failure records and dead letters."""
        up_to = self.tombstones.record(tenant_id, user_id, deleted_at)
        entities, index_entries = erase_registration(self.registrations, tenant_id, user_id, up_to)
        failures = self._erase_failures(tenant_id, user_id)
        other = {
            name: holder.erase_user(tenant_id, user_id) for name, holder in self.others.items()
        }
        dead_letters = self.dead_letters.remove(
            lambda body: belongs_to(body, tenant_id, user_id, up_to)
        )
        self._prune_tombstones()
        return ErasureResult(up_to, entities, index_entries, failures, dead_letters, other)

    def _prune_tombstones(self) -> None:
        # Tombstone retention, enforced here at most once per PRUNE_INTERVAL per process: the
        # scan is over the (small) tombstone table, and housekeeping never fails an erasure.
        now = self.monotonic()
        if self._last_prune is not None and now - self._last_prune < PRUNE_INTERVAL_SECONDS:
            return
        self._last_prune = now
        try:
            removed = self.tombstones.prune_expired()
        except Exception as exc:
            log_outcome(
                logger, "tombstones-prune", level=logging.WARNING, outcome="failed",
                error_type=type(exc).__name__,
            )  # fmt: skip
            return
        log_outcome(logger, "tombstones-prune", outcome="pruned" if removed else "nothing-to-prune")

    def _erase_failures(self, tenant_id: str, user_id: str) -> int:
        mine = [
            failure.message_id
            for failure in self.failures.iter_all()
            if failure.user_id == user_id and failure.tenant_id == tenant_id
        ]
        for message_id in mine:
            self.failures.clear(message_id)
        return len(mine)


def erase_registration(
    store: TableStore, tenant_id: str, user_id: str, up_to: datetime
) -> tuple[int, int]:
    """Delete the stored signup if created at or before `up_to`: (entities, index entries).

    Index entries go first, so a crash in between leaves the main entity,
    which the next run finds again. The main entity is deleted only if
    unchanged since it was read: a re-signup written in between is read again
    and kept (its `created_at` is later).
    """
    main_pk, main_rk = main_keys_of(tenant_id, user_id)
    removed_index = 0
    for _ in range(MAX_ERASE_ROUNDS):
        found = store.get(main_pk, main_rk)
        if found is None:
            return 0, removed_index
        registration = Registration.from_entity(found.entity)
        if registration.created_at > up_to:
            return 0, removed_index
        index = {index_keys(registration)}
        if "superseded_index_pk" in found.entity:  # left by a crash in the middle of an update
            index.add(
                (str(found.entity["superseded_index_pk"]), str(found.entity["superseded_index_rk"]))
            )
        for partition, row in index:
            store.delete(partition, row)
        removed_index += len(index)
        try:
            store.delete(main_pk, main_rk, etag=found.etag)
        except ETagMismatch:
            continue
        return 1, removed_index
    raise StorageUnavailable(f"lost {MAX_ERASE_ROUNDS} erasure races in a row")


def main_keys_of(tenant_id: str, user_id: str) -> tuple[str, str]:
    """(PartitionKey, RowKey) of a user's registration entity."""
    return keys.partition_key(user_id), keys.row_key(user_id, tenant_id)
