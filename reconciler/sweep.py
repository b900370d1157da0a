"""The timer's sweep: from the checkpoint to now minus the settle lag, inside functionTimeout.

Auth0's search is eventually consistent, so a sweep stops `RECONCILE_SETTLE_LAG_SECONDS`
before now, and each sweep starts `OVERLAP` before the checkpoint (windows
overlap; the table and duplicate detection absorb the repeats). The first sweep
of a tenant covers `FIRST_SWEEP` back; older users are a backfill for
`ops reconcile`. A sweep that reaches its deadline keeps what it finished: the
checkpoint moves to the end of its last finished window and the next run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from reconciler.checkpoint import CheckpointStore
from reconciler.service import Reconciler, ReconcileReport

OVERLAP = timedelta(minutes=5)
FIRST_SWEEP = timedelta(days=1)
# host.json functionTimeout is 00:02:00: stop starting windows after 90 s, so the last
# window (at most 10 requests at RECONCILE_MAX_RPS) and the checkpoint write fit.
SWEEP_BUDGET_SECONDS = 90.0


def sweep(
    reconciler: Reconciler,
    checkpoints: CheckpointStore,
    settle_lag: timedelta,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    budget_seconds: float = SWEEP_BUDGET_SECONDS,
) -> ReconcileReport | None:
    """One timer run; None when there is nothing settled to sweep yet."""
    until = now() - settle_lag
    checkpoint = checkpoints.get(reconciler.tenant_id)
    since = (checkpoint - OVERLAP) if checkpoint is not None else until - FIRST_SWEEP
    if since >= until:
        return None
    report = reconciler.run(since, until, deadline=time.monotonic() + budget_seconds)
    if report.complete_until is not None:
        checkpoints.advance(reconciler.tenant_id, report.complete_until)
    return report
