"""Timer trigger (schedule `%RECONCILE_SCHEDULE%`): one sweep. Adapts, nothing else."""

from __future__ import annotations

from datetime import timedelta

import azure.functions as func

from reconciler.dependencies import checkpoint_store
from reconciler.sweep import sweep
from shared.runtime import get_context

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.timer_trigger(schedule="%RECONCILE_SCHEDULE%", arg_name="timer", run_on_startup=False)
def reconcile_sweep(timer: func.TimerRequest) -> None:
    """Enqueue every settled Auth0 user the table lacks, from the checkpoint on."""
    context = get_context()
    lag = timedelta(seconds=context.settings.reconcile_settle_lag_seconds)
    sweep(context.reconciler, checkpoint_store(context), lag)
