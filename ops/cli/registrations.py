"""`ops registrations get|list|export|erase`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ops import registrations as registration_rows
from ops.cli.context import session
from ops.cli.options import ForceFlag, JsonFlag, TenantOption
from ops.cli.output import create_private_file
from ops.durations import parse_timestamp
from ops.erasure import erase_user
from ops.errors import OpsError, UsageProblem

app = typer.Typer(help="Read, export and erase registrations.")
ERASE_COLUMNS = ("tenant_id", "entities", "index_entries", "failures", "dead_letters", "action_id")


@app.command("get")
def registrations_get(
    ctx: typer.Context,
    user_id: str,
    tenant: TenantOption = None,
    json_output: JsonFlag = False,
) -> None:
    """A user's registration (in every tenant unless --tenant)."""
    with session(ctx, json_output) as (wiring, output):
        found = wiring.app.registration_reader.get(user_id, tenant_id=tenant)
        if not found:
            where = f" in tenant {tenant!r}" if tenant else ""
            raise OpsError(f"no registration for user {user_id!r}{where}")
        output.rows(registration_rows.rows(found), registration_rows.TABLE_COLUMNS)


@app.command("list")
def registrations_list(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="created_at >= ISO time")] = None,
    until: Annotated[str | None, typer.Option("--until", help="created_at < ISO time")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    json_output: JsonFlag = False,
) -> None:
    """Registrations created in a time window, oldest first (reads only that window)."""
    start = parse_timestamp(since) if since else None
    stop = parse_timestamp(until) if until else None
    if start and stop and start >= stop:
        raise UsageProblem("--since must be earlier than --until")
    with session(ctx, json_output) as (wiring, output):
        found = wiring.app.registration_reader.list(since=start, until=stop, limit=limit)
        output.rows(registration_rows.rows(found), registration_rows.TABLE_COLUMNS)


@app.command("export")
def registrations_export(
    ctx: typer.Context,
    export_format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[
        Path | None, typer.Option("--out", help="New file, created 0600 (default stdout).")
    ] = None,
    force: ForceFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Every registration, as JSON lines or CSV."""
    if export_format not in registration_rows.EXPORT_FORMATS:
        raise UsageProblem(f"--format must be jsonl or csv, not {export_format!r}")
    with session(ctx, json_output) as (wiring, output):
        target = create_private_file(out, force) if out else sys.stdout
        try:
            with output.progress("exporting", None) as advance:
                count = registration_rows.export(
                    wiring.app.registration_reader.iter_all(), export_format, target, advance
                )
        finally:
            if out:
                target.close()
        if out:
            output.record({"exported": count, "out": str(out), "format": export_format})


@app.command("erase")
def registrations_erase(
    ctx: typer.Context,
    user_id: str,
    tenant: TenantOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Required: erasing is final.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Erase a user everywhere (row, index, failure records, dead letters; tombstoned), audited."""
    if not yes:
        raise UsageProblem("erase deletes the user's data for good: add --yes")
    with session(ctx, json_output) as (wiring, output):
        reader = wiring.app.registration_reader
        tenants = [tenant] if tenant else sorted({r.tenant_id for r in reader.get(user_id)})
        if not tenants:
            raise OpsError(f"no registration for user {user_id!r}: name the tenant with --tenant")
        rows = [erase_user(wiring.app.eraser, wiring.audit, t, user_id) for t in tenants]
        output.rows(rows, ERASE_COLUMNS, title="erased")
