"""`registrations erase`: erase a user with `shared.erasure.Eraser`, audited in AUDIT_TABLE.

The audit row never holds the user id: its selection is
`user <subject_hash(tenant, user)[:32]>`, the same naming the app's own
erasure rows (APP_AUDIT_TABLE) use, so both can be matched to a request by
hashing the id again. The row is written (`running`) before anything is
erased: when it cannot be written, nothing happens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from ops.audit.record import AuditTrail
from ops.errors import OpsError, one_line
from shared.audit_rows import erased_user_selection
from shared.erasure import ErasureResult
from shared.errors import PipelineError


class UserEraser(Protocol):
    """What ops needs of `shared.erasure.Eraser`."""

    def erase(self, tenant_id: str, user_id: str, deleted_at: datetime) -> ErasureResult:
        """Tombstone the user, then remove every copy of their data."""
        ...


def erase_user(
    eraser: UserEraser,
    audit: AuditTrail,
    tenant_id: str,
    user_id: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Erase one user in one tenant; the result row (counts, audit id)."""
    try:
        entry = audit.begin("erase", "", erased_user_selection(tenant_id, user_id), 1)
    except OpsError as exc:
        raise OpsError(f"nothing was erased: the audit record cannot be written ({exc})") from exc
    try:
        result = eraser.erase(tenant_id, user_id, now())
    except (PipelineError, OpsError) as exc:
        cause = f"{type(exc).__name__}: {one_line(exc)}"
        audit.finish(entry, "failed", {}, cause)
        raise OpsError(
            f"erasure incomplete ({cause}); run the same command again: every step is idempotent"
        ) from exc
    audit.finish(entry, "succeeded", result.counts())
    return {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "deleted_at": result.deleted_at,
        **result.counts(),
        "action_id": entry.action_id,
    }
