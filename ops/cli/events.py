"""`ops events kept`: Event Streams deliveries the pipeline could not use, kept with their cause.

They live in FAILURES_TABLE (partitions `r..`, see `shared.rejections`). The
listing never prints a delivery's body (it may hold personal data); the
`body` column of the row holds it, for the 30 days rows are kept.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ops.cli.context import session
from ops.cli.options import JsonFlag
from shared.rejections import RejectedDelivery

app = typer.Typer(help="Event Streams deliveries the pipeline kept instead of enqueuing.")
KEPT_COLUMNS = ("id", "kept_at", "cause", "user_id", "size")


@app.command("kept")
def events_kept(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most N.")] = 20,
    json_output: JsonFlag = False,
) -> None:
    """The newest deliveries kept as unusable: id, when, why, whose (when known), size."""
    with session(ctx, json_output) as (wiring, output):
        rows = [kept_row(kept) for kept in wiring.app.rejections.newest(limit)]
        output.rows(rows, KEPT_COLUMNS, title="kept Event Streams deliveries (newest first)")


def kept_row(kept: RejectedDelivery) -> dict[str, Any]:
    """One listing row (and `--json` object): no body, which may hold personal data."""
    return {
        "id": kept.rejection_id,
        "kept_at": kept.received_at,
        "cause": kept.cause,
        "user_id": kept.user_id,
        "size": kept.size,
        "event_type": kept.event_type,
        "body_truncated": kept.body_truncated,
    }
