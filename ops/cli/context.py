"""What every command shares: the global options, the session (wiring + output), confirming."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer

from ops.cli.output import Output
from ops.errors import OpsError, UsageProblem
from ops.wiring import Wiring


@dataclass
class Globals:
    """Options given before the command, and the composition root to build (tests swap it)."""

    settings: Path | None
    operator: str | None
    json_output: bool
    make_wiring: Callable[[Path | None, str | None], Wiring]


@contextmanager
def session(ctx: typer.Context, json_output: bool) -> Iterator[tuple[Wiring, Output]]:
    """The command's wiring (`ops.wiring.Wiring`) and output; the wiring is closed after."""
    options: Globals = ctx.find_root().obj
    output = Output(options.json_output or json_output, sys.stdout, sys.stderr)
    wiring = options.make_wiring(options.settings, options.operator)
    try:
        yield wiring, output
    finally:
        wiring.close()


def confirm(yes: bool, question: str) -> None:
    """Ask on a terminal unless --yes; refuse (exit 2) when there is no terminal to ask on."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageProblem("not a terminal, so nothing to confirm with: add --yes")
    if not typer.confirm(question, default=False):
        raise OpsError("not confirmed; nothing was changed")
