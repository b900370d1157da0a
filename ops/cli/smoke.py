"""`ops smoke` and `ops send-test-event`: signed signups through a live ingest endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ops.cli.context import session
from ops.cli.options import FunctionKeyOption, JsonFlag
from ops.errors import OpsError
from ops.ingest_client import DEFAULT_INGEST_URL, HttpEventPoster, IngestAnswer
from ops.signups import load_event_file, send_events, signup_events
from ops.smoke import SmokeRun, explain
from ops.wiring import Wiring


def smoke(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="The ingest endpoint.")],
    cleanup: Annotated[bool, typer.Option("--cleanup", help="Delete the row after.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1)] = 60.0,
    function_key: FunctionKeyOption = None,
    json_output: JsonFlag = False,
) -> None:
    """One signed synthetic signup through URL, waited for in the table."""
    with session(ctx, json_output) as (wiring, output):
        poster = _poster(wiring, url, function_key)
        app = wiring.app
        store = app.table_store(wiring.settings.registrations_table)
        run = SmokeRun(poster, app.registration_reader, store, timeout)
        result = run.run(cleanup)
        output.record(result.row(), title="smoke test passed")


def send_test_event(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", min=1, max=10_000)] = 1,
    file: Annotated[Path | None, typer.Option("--file", help="Event JSON to send.")] = None,
    url: Annotated[str, typer.Option("--url")] = DEFAULT_INGEST_URL,
    function_key: FunctionKeyOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Signed test signups to the local stack; prints the accepted ids."""
    template = load_event_file(file) if file else None
    with session(ctx, json_output) as (wiring, output):
        poster = _poster(wiring, url, function_key)
        with output.progress("sending", count) as advance:
            rows = list(send_events(poster, signup_events(count, template), advance))
        output.rows(rows, ("tenant_id", "user_id", "status", "id", "trace_id"), title="test events")
        traced = next((row["trace_id"] for row in rows if row["accepted"]), None)
        if traced:
            output.say(f"follow one through the pipeline: .venv/bin/python -m ops trace {traced}")
        refused = [row for row in rows if not row["accepted"]]
        if refused:
            first = refused[0]
            answer = IngestAnswer(first["status"], first["detail"] or {})
            raise OpsError(
                f"{len(refused)} of {len(rows)} events refused: {first['status']}{explain(answer)}"
            )


def _poster(wiring: Wiring, url: str, function_key: str | None) -> HttpEventPoster:
    settings = wiring.settings
    secrets = settings.webhook_secrets
    key = function_key or settings.localdev_function_key.get_secret_value()
    return HttpEventPoster(url, secrets[0] if secrets else "", key)
