"""`python -m ops`: the typer adapter. Parses flags, calls the ops modules, maps errors to exits.

Exit codes: 0 done, 1 failed (including unreachable services and partial
work), 2 bad usage. Every error is one line on stderr, never a stack trace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ops import dlq as dlq_reading
from ops import registrations as registration_rows
from ops.dead_letters import DeadLetter, Selection, selection_from_flags
from ops.dlq_actions import ActionContext, ActionReport, ReplayPolicy, plan_replay, purge, replay
from ops.dlq_actions import select as select_letters
from ops.dlq_settle import MessageOutcome, PassOptions
from ops.durations import parse_duration, parse_rate, parse_timestamp
from ops.errors import EXIT_FAILED, IncompleteOperation, OpsError, UsageProblem, one_line
from ops.ingest_client import DEFAULT_INGEST_URL, HttpEventPoster, IngestAnswer
from ops.output import Output
from ops.signups import load_event_file, send_events, signup_events
from ops.smoke import SmokeRun, explain
from ops.views import AUDIT_COLUMNS, DLQ_COLUMNS, audit_rows, show_report
from ops.wiring import Wiring
from shared.errors import PipelineError, TransientError

PROG = "python -m ops"
app = typer.Typer(
    help="Operate the signup pipeline: dead-letter queue, audit log, registrations, smoke tests.",
    no_args_is_help=True,
    add_completion=False,
)
dlq_app = typer.Typer(help="Inspect, replay, purge and export the dead-letter queue.")
audit_app = typer.Typer(help="The record of every replay and purge.")
registrations_app = typer.Typer(help="Read registrations from the table.")
app.add_typer(dlq_app, name="dlq", no_args_is_help=True)
app.add_typer(audit_app, name="audit", no_args_is_help=True)
app.add_typer(registrations_app, name="registrations", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
SeqOption = Annotated[
    list[str] | None, typer.Option("--seq", help="Sequence number(s); repeat or comma-separate.")
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Dead-letter reason contains TEXT (any case).")
]
ErrorOption = Annotated[
    str | None,
    typer.Option("--error", help="The processor's recorded error contains TEXT (any case)."),
]
OlderOption = Annotated[
    str | None, typer.Option("--older-than", help="Enqueued longer ago than e.g. 7d, 12h, PT1H.")
]
LOCK_WAIT_HELP = "Seconds to wait for messages locked by another receiver (e.g. a killed run)."
FunctionKey = Annotated[
    str | None,
    typer.Option("--function-key", envvar="FUNCTION_KEY", help="Default: LOCALDEV_FUNCTION_KEY."),
]


@dataclass
class Globals:
    """Options given before the command."""

    settings: Path | None
    operator: str | None
    json_output: bool


@app.callback()
def _globals(
    ctx: typer.Context,
    settings: Annotated[
        Path | None,
        typer.Option("--settings", help="local.settings.json to read (env wins over it)."),
    ] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Who to record in the audit log.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    ctx.obj = Globals(settings, operator, json_output)


@contextmanager
def _session(ctx: typer.Context, json_output: bool) -> Iterator[tuple[Wiring, Output]]:
    options: Globals = ctx.find_root().obj
    output = Output(options.json_output or json_output, sys.stdout, sys.stderr)
    wiring = Wiring(options.settings, options.operator)
    try:
        yield wiring, output
    finally:
        wiring.close()


# ---- dlq ------------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    reason: ReasonOption = None,
    error: ErrorOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    json_output: JsonFlag = False,
) -> None:
    """Peek the dead-letter queue (locks nothing) with the processor's last error."""
    with _session(ctx, json_output) as (wiring, output):
        queue = wiring.dead_letter_queue
        rows = dlq_reading.list_dead_letters(queue, wiring.failures, reason, limit, error)
        output.rows(rows, DLQ_COLUMNS, title=f"dead letters of {queue.queue_name}")


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    sequence_number: Annotated[int, typer.Argument(min=1)],
    json_output: JsonFlag = False,
) -> None:
    """Everything about one dead letter, body pretty-printed."""
    with _session(ctx, json_output) as (wiring, output):
        letter = dlq_reading.find(wiring.dead_letter_queue, sequence_number)
        output.record(dlq_reading.detail(letter, wiring.failures))


def _selection(
    everything: bool,
    seq: list[str] | None,
    reason: str | None,
    older_than: str | None,
    error: str | None,
) -> Selection:
    """The dead letters a replay or purge acts on, from its flags."""
    age = parse_duration(older_than) if older_than else None
    return selection_from_flags(everything, seq or [], reason, age, error)


@dlq_app.command("replay")
def dlq_replay(
    ctx: typer.Context,
    everything: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    seq: SeqOption = None,
    reason: ReasonOption = None,
    error: ErrorOption = None,
    older_than: OlderOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    rate: Annotated[str | None, typer.Option("--rate", help="At most N/s (or N/m).")] = None,
    max_replays: Annotated[
        int, typer.Option("--max-replays", min=1, help="Refuse messages replayed this often.")
    ] = 3,
    force: Annotated[bool, typer.Option("--force", help="Replay past --max-replays.")] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=500, help="Messages per send/settle batch.")
    ] = 100,
    lock_wait: Annotated[float, typer.Option("--lock-wait", min=0, help=LOCK_WAIT_HELP)] = 75.0,
    json_output: JsonFlag = False,
) -> None:
    """Send dead letters back to the queue (send first, then settle), audited."""
    selection = _selection(everything, seq, reason, older_than, error)
    options = PassOptions(batch_size, lock_wait_seconds=lock_wait, rate_per_second=_rate(rate))
    policy = ReplayPolicy(max_replays, force)
    with _session(ctx, json_output) as (wiring, output):
        queue = wiring.dead_letter_queue
        letters = select_letters(queue, selection, datetime.now(UTC), _last_error(wiring))
        if dry_run or not letters:
            report = ActionReport(
                "replay", selection.describe(), True, plan_replay(letters, policy)
            )
            show_report(output, report)
            return
        _confirm(yes, f"Replay {len(letters)} dead letters ({selection.describe()}) to the queue?")
        with output.progress("replaying", len(letters)) as advance:
            context = ActionContext(
                queue, queue.queue_name, wiring.audit, options, on_progress=advance
            )
            report = replay(context, letters, selection.describe(), policy)
        _finish(output, report)


@dlq_app.command("purge")
def dlq_purge(
    ctx: typer.Context,
    everything: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    seq: SeqOption = None,
    reason: ReasonOption = None,
    error: ErrorOption = None,
    older_than: OlderOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show, change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Required: purging is final.")] = False,
    lock_wait: Annotated[float, typer.Option("--lock-wait", min=0, help=LOCK_WAIT_HELP)] = 75.0,
    json_output: JsonFlag = False,
) -> None:
    """Delete the selected dead letters for good (dlq export first), audited."""
    selection = _selection(everything, seq, reason, older_than, error)
    if not (yes or dry_run):
        raise UsageProblem("purge deletes messages for good: add --yes (or look first: --dry-run)")
    with _session(ctx, json_output) as (wiring, output):
        queue = wiring.dead_letter_queue
        letters = select_letters(queue, selection, datetime.now(UTC), _last_error(wiring))
        if dry_run or not letters:
            plan = [
                MessageOutcome(letter.sequence_number, letter.message_id, "would-purge")
                for letter in letters
            ]
            show_report(output, ActionReport("purge", selection.describe(), True, plan))
            return
        with output.progress("purging", len(letters)) as advance:
            options = PassOptions(lock_wait_seconds=lock_wait)
            context = ActionContext(
                queue, queue.queue_name, wiring.audit, options, on_progress=advance
            )
            report = purge(context, letters, selection.describe())
        _finish(output, report)


@dlq_app.command("export")
def dlq_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="New JSON-lines file.")],
    json_output: JsonFlag = False,
) -> None:
    """Write every dead letter (body + all properties) to a file; removes nothing."""
    try:
        handle = out.open("x", encoding="utf-8")
    except FileExistsError:
        raise UsageProblem(f"{out} exists already: choose a new file") from None
    except OSError as exc:
        raise OpsError(f"cannot create {out}: {exc.strerror or exc}") from exc
    with handle, _session(ctx, json_output) as (wiring, output):
        with output.progress("exporting", None) as advance:
            count = dlq_reading.export_dead_letters(
                wiring.dead_letter_queue, wiring.failures, handle, lambda _: advance(1)
            )
        output.record({"exported": count, "out": str(out)})


# ---- audit ----------------------------------------------------------------


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20,
    json_output: JsonFlag = False,
) -> None:
    """The newest replays and purges: who, when, which messages, outcome."""
    with _session(ctx, json_output) as (wiring, output):
        entries = wiring.audit.store.recent(limit)
        output.rows(audit_rows(entries), AUDIT_COLUMNS, title="ops audit log (newest first)")


# ---- registrations --------------------------------------------------------


@registrations_app.command("get")
def registrations_get(
    ctx: typer.Context,
    user_id: str,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """A user's registration (in every tenant unless --tenant)."""
    with _session(ctx, json_output) as (wiring, output):
        found = wiring.reader.get(user_id, tenant_id=tenant)
        if not found:
            where = f" in tenant {tenant!r}" if tenant else ""
            raise OpsError(f"no registration for user {user_id!r}{where}")
        output.rows(registration_rows.rows(found), registration_rows.TABLE_COLUMNS)


@registrations_app.command("list")
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
    with _session(ctx, json_output) as (wiring, output):
        found = wiring.reader.list(since=start, until=stop, limit=limit)
        output.rows(registration_rows.rows(found), registration_rows.TABLE_COLUMNS)


@registrations_app.command("export")
def registrations_export(
    ctx: typer.Context,
    export_format: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="File (default stdout).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Every registration, as JSON lines or CSV."""
    if export_format not in registration_rows.EXPORT_FORMATS:
        raise UsageProblem(f"--format must be jsonl or csv, not {export_format!r}")
    with _session(ctx, json_output) as (wiring, output):
        target = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        try:
            with output.progress("exporting", None) as advance:
                count = registration_rows.export(
                    wiring.reader.iter_all(), export_format, target, advance
                )
        finally:
            if out:
                target.close()
        if out:
            output.record({"exported": count, "out": str(out), "format": export_format})


# ---- smoke and test events ------------------------------------------------


@app.command("smoke")
def smoke(
    ctx: typer.Context,
    url: Annotated[str, typer.Option("--url", help="The ingest endpoint.")],
    cleanup: Annotated[bool, typer.Option("--cleanup", help="Delete the row after.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1)] = 60.0,
    function_key: FunctionKey = None,
    json_output: JsonFlag = False,
) -> None:
    """One signed synthetic signup through URL, waited for in the table."""
    with _session(ctx, json_output) as (wiring, output):
        poster = _poster(wiring, url, function_key)
        run = SmokeRun(poster, wiring.reader, wiring.registrations_store, timeout)
        result = run.run(cleanup)
        output.record(result.row(), title="smoke test passed")


@app.command("send-test-event")
def send_test_event(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("--count", min=1, max=10_000)] = 1,
    file: Annotated[Path | None, typer.Option("--file", help="Event JSON to send.")] = None,
    url: Annotated[str, typer.Option("--url")] = DEFAULT_INGEST_URL,
    function_key: FunctionKey = None,
    json_output: JsonFlag = False,
) -> None:
    """Signed test signups to the local stack; prints the accepted ids."""
    template = load_event_file(file) if file else None
    with _session(ctx, json_output) as (wiring, output):
        poster = _poster(wiring, url, function_key)
        with output.progress("sending", count) as advance:
            rows = list(send_events(poster, signup_events(count, template), advance))
        output.rows(rows, ("tenant_id", "user_id", "status", "id"), title="test events")
        refused = [row for row in rows if not row["accepted"]]
        if refused:
            first = refused[0]
            answer = IngestAnswer(first["status"], first["detail"] or {})
            raise OpsError(
                f"{len(refused)} of {len(rows)} events refused: {first['status']}{explain(answer)}"
            )


# ---- helpers --------------------------------------------------------------


def _poster(wiring: Wiring, url: str, function_key: str | None) -> HttpEventPoster:
    settings = wiring.settings
    secrets = settings.webhook_secrets
    key = function_key or settings.localdev_function_key.get_secret_value()
    return HttpEventPoster(url, secrets[0] if secrets else "", key)


def _last_error(wiring: Wiring) -> Callable[[DeadLetter], str | None]:
    return lambda letter: dlq_reading.last_error_text(wiring.failures, letter)


def _rate(text: str | None) -> float | None:
    return parse_rate(text) if text else None


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageProblem("not a terminal, so nothing to confirm with: add --yes")
    if not typer.confirm(question, default=False):
        raise OpsError("not confirmed; nothing was changed")


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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 done, 1 failed, 2 bad usage)."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name=PROG, standalone_mode=False)
    except typer.TyperException as exc:  # click usage errors: exit 2, one line
        return _fail(_usage_text(exc), exc.exit_code)
    except typer.Abort:
        return _fail("aborted; nothing was changed", EXIT_FAILED)
    except (UsageProblem, OpsError) as exc:
        return _fail(str(exc), exc.exit_code)
    except TransientError as exc:
        return _fail(f"Table Storage unreachable or busy: {exc}", EXIT_FAILED)
    except PipelineError as exc:
        return _fail(f"Table Storage refused the request: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        return _fail("interrupted; run the same command again to finish", 130)
    except Exception as exc:  # the last resort: still one line, never a stack trace
        return _fail(f"unexpected {type(exc).__name__}: {exc}", EXIT_FAILED)
    return result if isinstance(result, int) else 0


def _usage_text(exc: typer.TyperException) -> str:
    context = getattr(exc, "ctx", None)
    command_path = context.command_path if context is not None else PROG
    if type(exc).__name__ == "NoArgsIsHelpError":
        return f"missing command; try '{command_path} --help'"
    return f"{exc.format_message()} (try '{command_path} --help')"


def _fail(text: str, code: int) -> int:
    sys.stderr.write(f"error: {one_line(text)}\n")
    sys.stderr.flush()
    return code
