"""`smoke`: one synthetic signup through a live endpoint, waited for in the table.

The user is `smoke|<uuid>` in tenant `smoke-test`, with no real personal
data. `--cleanup` deletes the registration entity and its time-index entity
with the pipeline's own key functions (`shared.writes.main_keys` /
`index_keys`) and TableStore, so the key scheme lives in one place.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ops.errors import OpsError
from ops.ingest_client import EventPoster, IngestAnswer, synthetic_event
from shared.registrations import Registration, RegistrationReader
from shared.tablestore import TableStore
from shared.writes import index_keys, main_keys

SMOKE_TENANT = "smoke-test"


@dataclass(frozen=True)
class SmokeResult:
    """The outcome of one smoke run."""

    tenant_id: str
    user_id: str
    message_id: str | None
    trace_id: str | None  # `ops trace <trace_id>` shows the path
    status: int
    latency_seconds: float
    received_at: datetime
    processed_at: datetime
    cleaned_up: bool

    def row(self) -> dict[str, Any]:
        """The --json row: every field, in order, the latency to the millisecond."""
        return asdict(self) | {"latency_seconds": round(self.latency_seconds, 3)}


@dataclass
class SmokeRun:
    """One smoke test: where to post, where to look, how long to wait."""

    poster: EventPoster
    reader: RegistrationReader
    store: TableStore
    timeout_seconds: float = 60.0
    poll_seconds: float = 0.25
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, cleanup: bool) -> SmokeResult:
        """Post a synthetic signup, wait for its row, optionally delete it."""
        user_id = f"smoke|{uuid.uuid4()}"
        started = self.monotonic()
        answer = self.poster.post(synthetic_event(SMOKE_TENANT, user_id, datetime.now(UTC)))
        if not answer.accepted:
            raise OpsError(f"ingest answered {answer.status}, expected 202{explain(answer)}")
        found = self._wait_for(user_id, started)
        latency = self.monotonic() - started
        if cleanup:
            delete_registration(self.store, found)
        return SmokeResult(
            tenant_id=SMOKE_TENANT,
            user_id=user_id,
            message_id=answer.body.get("id"),
            trace_id=answer.trace_id,
            status=answer.status,
            latency_seconds=latency,
            received_at=found.received_at,
            processed_at=found.processed_at,
            cleaned_up=cleanup,
        )

    def _wait_for(self, user_id: str, started: float) -> Registration:
        while True:
            rows = self.reader.get(user_id, tenant_id=SMOKE_TENANT)
            if rows:
                return rows[0]
            if self.monotonic() - started > self.timeout_seconds:
                raise OpsError(
                    f"accepted, but {user_id} was not in the table after"
                    f" {self.timeout_seconds:g}s: is the processor running?"
                )
            self.sleep(self.poll_seconds)


def explain(answer: IngestAnswer) -> str:
    """Why ingest refused: its problem detail, or a hint for the statuses that carry none."""
    detail = answer.body.get("detail") or answer.body.get("title")
    if detail:
        return f": {detail}"
    hints = {
        401: "check --function-key / LOCALDEV_FUNCTION_KEY and WEBHOOK_SECRET",
        404: "check --url",
    }
    return f" ({hints[answer.status]})" if answer.status in hints else ""


def delete_registration(store: TableStore, registration: Registration) -> None:
    """Delete a registration and its time-index entity (used for smoke users only)."""
    if registration.tenant_id != SMOKE_TENANT:
        raise OpsError(f"refusing to delete a registration outside tenant {SMOKE_TENANT!r}")
    store.delete(*index_keys(registration))
    store.delete(*main_keys(registration))
