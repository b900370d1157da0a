"""How ops prints: a human table by default, one JSON object per line with --json.

Data is never read as rich markup: every cell, title and line goes through
`Text` (plain), so a signup nicknamed `[/]` or `[link=...]` prints as typed.
Progress bars go to stderr and only when stderr is a terminal and --json is
off, so scripts reading stdout never see them.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ops.errors import OpsError, UsageProblem

WIDE = 200  # table width when stdout is a file or pipe (rich would assume 80)


def to_json_value(value: Any) -> Any:
    """JSON for what rows carry: datetimes as ISO 8601, bytes as base64, models as dicts."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def json_line(row: Mapping[str, Any], sort_keys: bool = False) -> str:
    """One row as a JSON line (no trailing newline): the one JSON encoder of the CLI."""
    return json.dumps(row, default=to_json_value, ensure_ascii=False, sort_keys=sort_keys)


def cell(value: Any, width: int = 60) -> str:
    """A value as table text: '-' for nothing, ISO times to the second, long text shortened."""
    if value is None or value == "" or value == [] or value == {}:
        text = "-"
    elif isinstance(value, datetime):
        text = value.isoformat(timespec="seconds")
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class Output:
    """Writes rows and records for one command invocation."""

    def __init__(self, json_mode: bool, out: TextIO, err: TextIO) -> None:
        self.json_mode = json_mode
        self.out = out
        self.err = err
        width = None if out.isatty() else WIDE
        self.console = Console(file=out, width=width, highlight=False, soft_wrap=False)

    def rows(
        self, rows: Iterable[Mapping[str, Any]], columns: Sequence[str], title: str | None = None
    ) -> int:
        """Print rows (all their fields with --json; `columns` in the table). Returns the count."""
        if self.json_mode:
            count = 0
            for row in rows:
                self.out.write(json_line(row) + "\n")
                count += 1
            self.out.flush()
            return count
        table = Table(title=_plain(title), show_lines=False, header_style="bold")
        for column in columns:
            table.add_column(column, overflow="fold")
        count = 0
        for row in rows:
            table.add_row(*(Text(cell(row.get(column))) for column in columns))
            count += 1
        if count:
            self.console.print(table)
        else:
            self.say(f"{title or 'result'}: nothing found")
        return count

    def record(self, row: Mapping[str, Any], title: str | None = None) -> None:
        """Print one object: a JSON line, or a two-column table with nested values pretty."""
        if self.json_mode:
            self.out.write(json_line(row) + "\n")
            self.out.flush()
            return
        table = Table(title=_plain(title), show_header=False, show_lines=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in row.items():
            if isinstance(value, Mapping | list) and value:
                text = json.dumps(value, indent=2, default=to_json_value, ensure_ascii=False)
            else:
                text = cell(value, width=10_000)
            table.add_row(Text(key), Text(text))
        self.console.print(table)

    def say(self, text: str) -> None:
        """A line for humans (suppressed with --json, where rows speak for themselves)."""
        if not self.json_mode:
            self.console.print(Text(text))

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A progress bar on stderr; yields `advance(n)`. A no-op for --json or without a TTY."""
        if self.json_mode or not self.err.isatty():
            yield lambda _: None
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.err),
            transient=True,
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


def create_private_file(path: Path, force: bool) -> TextIO:
    """A new file only its owner can read (0600); an existing one only with --force."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageProblem(f"{path} exists already: choose a new file, or add --force") from None
    except OSError as exc:
        raise OpsError(f"cannot create {path}: {exc.strerror or exc}") from exc
    os.fchmod(descriptor, 0o600)  # an overwritten file would keep its old mode
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


def _plain(title: str | None) -> Text | None:
    return None if title is None else Text(title)
