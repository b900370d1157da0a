"""`python -m ops`: the root typer app, the global options, and errors mapped to exit codes.

Exit codes: 0 done, 1 failed (including unreachable services and partial
work), 2 bad usage. Every error is one line on stderr, never a stack trace.
A command group is one module of `ops.cli` with its own `typer.Typer`,
registered here with one line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ops.cli import audit, dlq, events, reconcile, registrations, smoke, status, trace
from ops.cli.context import Globals
from ops.cli.options import JsonFlag
from ops.errors import EXIT_FAILED, OpsError, UsageProblem, one_line
from ops.wiring import Wiring
from shared.errors import PipelineError, TransientError

PROG = "python -m ops"
app = typer.Typer(
    help="Operate the signup pipeline: dead-letter queue, audit log, registrations, smoke tests.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(dlq.app, name="dlq", no_args_is_help=True)
app.add_typer(audit.app, name="audit", no_args_is_help=True)
app.add_typer(registrations.app, name="registrations", no_args_is_help=True)
app.add_typer(events.app, name="events", no_args_is_help=True)
app.command("smoke")(smoke.smoke)
app.command("send-test-event")(smoke.send_test_event)
app.command("trace")(trace.trace)
app.command("status")(status.status)
app.command("reconcile")(reconcile.reconcile)


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
    # Wiring is looked up here, at call time, so tests can swap the composition root.
    ctx.obj = Globals(settings, operator, json_output, Wiring)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 done, 1 failed, 2 bad usage)."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name=PROG, standalone_mode=False)
    except typer.TyperException as exc:  # click usage errors: exit 2, one line
        return _fail(_usage_line(exc), exc.exit_code)
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


def _usage_line(exc: typer.TyperException) -> str:
    context = getattr(exc, "ctx", None)
    command_path = context.command_path if context is not None else PROG
    if type(exc).__name__ == "NoArgsIsHelpError":
        return f"missing command; try '{command_path} --help'"
    return f"{exc.format_message()} (try '{command_path} --help')"


def _fail(text: str, code: int) -> int:
    sys.stderr.write(f"error: {one_line(text)}\n")
    sys.stderr.flush()
    return code
