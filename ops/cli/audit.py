"""`ops audit list`."""

from __future__ import annotations

from typing import Annotated

import typer

from ops.audit.record import newest
from ops.cli.context import session
from ops.cli.options import JsonFlag
from ops.cli.views import AUDIT_COLUMNS, audit_rows

app = typer.Typer(help="The record of every replay, purge and erasure.")


@app.command("list")
def audit_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    json_output: JsonFlag = False,
) -> None:
    """The newest replays, purges and erasures (operators' and the app's): who, when, outcome."""
    with session(ctx, json_output) as (wiring, output):
        entries = newest([wiring.audit_store, wiring.app_audit], limit)
        output.rows(audit_rows(entries), AUDIT_COLUMNS, title="ops audit log (newest first)")
