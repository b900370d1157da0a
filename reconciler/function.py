"""Timer trigger (schedule `%RECONCILE_SCHEDULE%`): one sweep. Adapts, nothing else."""

from __future__ import annotations

from datetime import timedelta

import azure.functions as func

from reconciler.dependencies import get_parts
from reconciler.sweep import sweep
from shared.settings import load_settings

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.timer_trigger(schedule="%RECONCILE_SCHEDULE%", arg_name="timer", run_on_startup=False)
def reconcile_sweep(timer: func.TimerRequest) -> None:
    """Enqueue every settled Auth0 user the table lacks, from the checkpoint on."""
    settings = load_settings()
    parts = get_parts(settings)
    lag = timedelta(seconds=settings.reconcile_settle_lag_seconds)
    sweep(parts.reconciler, parts.checkpoints, lag)
