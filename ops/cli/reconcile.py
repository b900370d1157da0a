"""`ops reconcile --since ISO --until ISO [--dry-run]`: enqueue the Auth0 users the table lacks.

For backfills (a new deployment importing its existing users) and recovery after
an incident. The last line with `--json` is one object with the integers
`scanned`, `already_stored`, `enqueued`, `would_enqueue`, `skipped_dead_lettered`,
`skipped_failed`, `skipped_tombstoned`, `skipped_invalid` and `windows`. The timer's
checkpoint is neither read nor moved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ops.cli.context import session
from ops.cli.options import JsonFlag
from ops.durations import parse_timestamp
from ops.errors import OpsError, UsageProblem
from ops.wiring import Wiring
from reconciler.dependencies import build_reconciler, close_search
from reconciler.management import ListingRejected, ListingUnavailable
from reconciler.service import Reconciler, ReconcileReport
from shared.errors import QueueUnavailable
from shared.settings import SettingsError

PERCENT = 100


def reconcile(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="created_at >= this ISO 8601 time")],
    until: Annotated[str, typer.Option("--until", help="created_at < this ISO 8601 time")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be enqueued; enqueue nothing.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Enqueue every Auth0 user created in [SINCE, UNTIL) that the table lacks."""
    start, stop = parse_timestamp(since), parse_timestamp(until)
    if start >= stop:
        raise UsageProblem("--since must be earlier than --until")
    with session(ctx, json_output) as (wiring, output), command_reconciler(wiring) as reconciler:
        try:
            with output.progress("reconciling", PERCENT) as advance:
                done = [0]

                def on_window(report: ReconcileReport) -> None:
                    assert report.complete_until is not None
                    share = (report.complete_until - start) / (stop - start)
                    advance(round(share * PERCENT) - done[0])
                    done[0] = round(share * PERCENT)

                report = reconciler.run(start, stop, dry_run=dry_run, on_window=on_window)
        except ListingRejected as exc:
            raise OpsError(f"Auth0 refused the user search: {exc}") from exc
        except ListingUnavailable as exc:
            raise OpsError(f"Auth0 unreachable or throttling: {exc}") from exc
        except QueueUnavailable as exc:
            raise OpsError(f"Service Bus unreachable: {exc}; run the same command again") from exc
        output.record(report.as_json(), title="dry run" if dry_run else "reconciled")


@contextmanager
def command_reconciler(wiring: Wiring) -> Iterator[Reconciler]:
    """The reconciler over the wiring's clients; its Auth0 connections closed after.

    Its publisher, like the clients, is the wiring's, and closed with it.
    """
    try:
        reconciler = build_reconciler(wiring.app)
    except (SettingsError, ListingRejected) as exc:  # no tenant, bad SEND_FIELDS, no AUTH0_*
        raise OpsError(f"invalid settings: {exc}") from exc
    try:
        yield reconciler
    finally:
        close_search(reconciler)
