"""`ops dlq list|show|replay|purge|export`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ops.cli.context import confirm, session
from ops.cli.options import (
    DryRunFlag,
    ErrorOption,
    ForceFlag,
    JsonFlag,
    LockWaitOption,
    ReasonOption,
    takes_selection,
)
from ops.cli.output import Output, create_private_file, json_line
from ops.cli.views import DLQ_COLUMNS, marked, show_report
from ops.deadletters import read
from ops.deadletters.actions import ActionContext, ActionReport, ReplayPolicy, plan_replay
from ops.deadletters.actions import purge as purge_letters
from ops.deadletters.actions import replay as replay_letters
from ops.deadletters.actions import select as select_letters
from ops.deadletters.model import DeadLetter, Selection
from ops.deadletters.settle import MessageOutcome, PassOptions
from ops.durations import parse_rate
from ops.errors import IncompleteOperation, UsageProblem
from ops.wiring import Wiring

app = typer.Typer(help="Inspect, replay, purge and export the dead-letter queue.")


@app.command("list")
def dlq_list(
    ctx: typer.Context,
    reason: ReasonOption = None,
    error: ErrorOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    json_output: JsonFlag = False,
) -> None:
    """Peek the dead-letter queue (locks nothing) with the processor's last error."""
    with session(ctx, json_output) as (wiring, output):
        queue = wiring.dead_letter_queue
        errors = read.RecordedErrors(wiring.app.failure_log)
        rows = read.list_dead_letters(queue, errors, reason, limit, error)
        shown = rows if output.json_mode else map(marked, rows)
        output.rows(shown, DLQ_COLUMNS, title=f"dead letters of {queue.queue_name}")


@app.command("show")
def dlq_show(
    ctx: typer.Context,
    sequence_number: Annotated[int, typer.Argument(min=1)],
    json_output: JsonFlag = False,
) -> None:
    """Everything about one dead letter, body pretty-printed."""
    with session(ctx, json_output) as (wiring, output):
        letter = read.find(wiring.dead_letter_queue, sequence_number)
        row = read.detail(letter, read.RecordedErrors(wiring.app.failure_log))
        output.record(row if output.json_mode else marked(row))


@app.command("replay")
@takes_selection
def dlq_replay(
    ctx: typer.Context,
    selection: Selection,
    dry_run: DryRunFlag = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    rate: Annotated[str | None, typer.Option("--rate", help="At most N/s (or N/m).")] = None,
    max_replays: Annotated[
        int, typer.Option("--max-replays", min=1, help="Refuse messages replayed this often.")
    ] = 3,
    force: Annotated[bool, typer.Option("--force", help="Replay past --max-replays.")] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=500, help="Messages per send/settle batch.")
    ] = 100,
    lock_wait: LockWaitOption = 75.0,
    json_output: JsonFlag = False,
) -> None:
    """Send dead letters back to the queue (send first, then settle), audited."""
    rate_per_second = parse_rate(rate) if rate else None
    options = PassOptions(batch_size, lock_wait_seconds=lock_wait, rate_per_second=rate_per_second)
    policy = ReplayPolicy(max_replays, force)
    with session(ctx, json_output) as (wiring, output):
        letters = _selected(wiring, selection)
        if dry_run or not letters:
            plan = plan_replay(letters, policy)
            show_report(output, ActionReport("replay", selection.describe(), True, plan))
            return
        confirm(yes, f"Replay {len(letters)} dead letters ({selection.describe()}) to the queue?")
        with output.progress("replaying", len(letters)) as advance:
            context = _action_context(wiring, options, advance)
            report = replay_letters(context, letters, selection.describe(), policy)
        _finish(output, report)


@app.command("purge")
@takes_selection
def dlq_purge(
    ctx: typer.Context,
    selection: Selection,
    dry_run: DryRunFlag = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Required: purging is final.")] = False,
    lock_wait: LockWaitOption = 75.0,
    json_output: JsonFlag = False,
) -> None:
    """Delete the selected dead letters for good (dlq export first), audited."""
    if not (yes or dry_run):
        raise UsageProblem("purge deletes messages for good: add --yes (or look first: --dry-run)")
    with session(ctx, json_output) as (wiring, output):
        letters = _selected(wiring, selection)
        if dry_run or not letters:
            plan = [
                MessageOutcome(letter.sequence_number, letter.message_id, "would-purge")
                for letter in letters
            ]
            show_report(output, ActionReport("purge", selection.describe(), True, plan))
            return
        with output.progress("purging", len(letters)) as advance:
            context = _action_context(wiring, PassOptions(lock_wait_seconds=lock_wait), advance)
            report = purge_letters(context, letters, selection.describe())
        _finish(output, report)


@app.command("export")
def dlq_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="New JSON-lines file (created 0600).")],
    force: ForceFlag = False,
    json_output: JsonFlag = False,
) -> None:
    """Write every dead letter (body + all properties) to a file; removes nothing."""
    handle = create_private_file(out, force)
    with handle, session(ctx, json_output) as (wiring, output):
        count = 0
        errors = read.RecordedErrors(wiring.app.failure_log)
        with output.progress("exporting", None) as advance:
            for row in read.export_rows(wiring.dead_letter_queue, errors):
                handle.write(json_line(row, sort_keys=True) + "\n")
                count += 1
                advance(1)
        output.record({"exported": count, "out": str(out)})


def _selected(wiring: Wiring, selection: Selection) -> list[DeadLetter]:
    """The snapshot a replay or purge acts on (peeked: nothing locked yet)."""
    errors = read.RecordedErrors(wiring.app.failure_log)
    return select_letters(wiring.dead_letter_queue, selection, datetime.now(UTC), errors.require)


def _action_context(
    wiring: Wiring, options: PassOptions, advance: Callable[[int], None]
) -> ActionContext:
    queue = wiring.dead_letter_queue
    return ActionContext(
        queue,
        queue.queue_name,
        wiring.audit,
        options,
        on_progress=advance,
        failures=wiring.app.failure_log,
    )


def _finish(output: Output, report: ActionReport) -> None:
    show_report(output, report)
    if not report.complete:
        missed = len(report.outcomes) - sum(
            n for name, n in report.counts.items() if name in (report.done_outcome, "refused")
        )
        raise IncompleteOperation(
            f"{missed} of {len(report.outcomes)} selected messages were not {report.done_outcome}"
            " (see the outcomes above); run the same command again"
        )
