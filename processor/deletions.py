"""The processor's side of erasure: `user.deleted` messages, and tombstoned signups.

- `DeletionProcessor.process(message)` parses a `user.deleted` body, runs the
  `Eraser` (tombstone, entity, index, failure records, dead letters) under the
  processor's table retry policy, records the erasure in APP_AUDIT_TABLE and
  returns (the host completes the message). Same failure rules as creations:
  a permanent error is recorded in the failure log and raised (-> DLQ after
  MaxDeliveryCount), a transient one is retried, then raised (-> redelivery).
- `TombstoneAwareWriter` is the `RegistrationWriter` the processor uses: a
  signup created at or before its user's deletion does not stay (outcome
  `stale`: it is older than the newest fact, the deletion). It reads the
  tombstone once, after the write, and erases what it wrote: that one read
  covers both a late copy and a write racing with an erasure.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from processor.service import IncomingMessage, record_failure
from shared import keys
from shared.audit_rows import erased_user_selection, summary_entity
from shared.erasure import Eraser, ErasureResult, UserDeletion, erase_registration, parse_deletion
from shared.errors import PermanentError
from shared.failures import FailureLog
from shared.log import log_outcome
from shared.registrations import Registration
from shared.retries import PROCESSOR_TABLE_RETRY, RetryPolicy
from shared.tablestore import Entity, TableStore
from shared.tombstones import TombstoneStore
from shared.writes import RegistrationWriter, WriteOutcome, index_keys

logger = logging.getLogger("processor")
APP_OPERATOR = "app:processor"


class TombstoneAwareWriter(RegistrationWriter):
    """A `RegistrationWriter` that never brings an erased signup back."""

    def __init__(self, store: TableStore, tombstones: TombstoneStore) -> None:
        super().__init__(store)
        self._registrations = store
        self._tombstones = tombstones

    def save(self, registration: Registration) -> WriteOutcome:
        """Write, then undo the write if the user's deletion is as new as this signup.

        One tombstone read per delivery, after the write: the erasure writes its
        tombstone before it deletes, so in every interleaving one of the two sees
        the other's work. A late copy of an erased signup is therefore stored for
        the time of that read and removed at once (outcome `stale`); it never
        stays, and its index entry never outlives it.
        """
        outcome = super().save(registration)
        tenant, user = registration.tenant_id, registration.user_id
        deleted_at = self._tombstones.deleted_at(tenant, user)
        if deleted_at is None or registration.created_at > deleted_at:
            return outcome
        erase_registration(self._registrations, tenant, user, deleted_at)
        # The erasure may have run before this write's index entry existed.
        self._registrations.delete(*index_keys(registration))
        return WriteOutcome.STALE


def audit_entity(
    deletion: UserDeletion, message_id: str, result: ErasureResult, finished_at: datetime
) -> Entity:
    """The erasure as one summary row in the operators' audit format (`ops audit list`).

    action `erase`, operator `app:processor`; `selection` names the user by
    `subject_hash` (tenant + user id), never by id. The row key derives from the
    deletion time and the message id, so a redelivery updates the same row.
    """
    started = deletion.deleted_at
    columns = {
        "action_id": message_id,
        "action": "erase",
        "operator": APP_OPERATOR,
        "queue": "",
        "selection": erased_user_selection(deletion.tenant.id, deletion.user.user_id),
        "started_at": keys.iso(started),
        "finished_at": keys.iso(finished_at),
        "selected": 1,
        "outcome": "completed",
        "counts": result.counts(),
        "chunks": 0,
    }
    return summary_entity(started, columns)


class DeletionProcessor:
    """Turns one `user.deleted` message into an erasure and its audit row."""

    def __init__(
        self,
        eraser: Eraser,
        audit: TableStore,
        failures: FailureLog,
        policy: RetryPolicy = PROCESSOR_TABLE_RETRY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._eraser = eraser
        self._audit = audit
        self._failures = failures
        self._policy = policy
        self._clock = clock
        self._sleep = sleep

    def process(self, message: IncomingMessage) -> ErasureResult:
        """Erase the user; raises to make the host abandon the message."""
        started = time.monotonic()
        fields: dict[str, Any] = {
            "message_id": message.message_id,
            "delivery_count": message.delivery_count,
            "correlation_id": message.correlation(),
        }
        deletion: UserDeletion | None = None
        try:
            deletion = parse_deletion(message.body)
            result = self._policy.retrying(sleep=self._sleep)(self._erase, deletion, message)
        except Exception as exc:
            permanent = isinstance(exc, PermanentError)
            record_failure(
                self._failures, message, exc, permanent=permanent,
                correlation_id=fields["correlation_id"],
                tenant_id=deletion.tenant.id if deletion else None,
                user_id=deletion.user.user_id if deletion else None, failed_at=self._clock(),
            )  # fmt: skip
            log_outcome(
                logger, "erase", level=logging.ERROR, outcome="failed-permanent" if permanent
                else "failed-transient", error_type=type(exc).__name__, error=str(exc),
                duration_ms=_ms(started), **fields,
            )  # fmt: skip
            raise
        log_outcome(logger, "erase", outcome="erased", duration_ms=_ms(started), **fields)
        return result

    def _erase(self, deletion: UserDeletion, message: IncomingMessage) -> ErasureResult:
        result = self._eraser.erase(deletion.tenant.id, deletion.user.user_id, deletion.deleted_at)
        row = audit_entity(deletion, message.message_id, result, self._clock())
        earlier = self._audit.get(row["PartitionKey"], row["RowKey"])
        if earlier is not None:  # a redelivery: the first run's counts stay in the total
            before = json.loads(str(earlier.entity.get("counts") or "{}"))
            now = result.counts()
            row["counts"] = json.dumps(
                {kind: int(before.get(kind, 0)) + now.get(kind, 0) for kind in {*before, *now}},
                sort_keys=True,
            )
        self._audit.upsert(row)
        return result


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
