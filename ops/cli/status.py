"""`ops status [--watch] [--interval S] [--json]`: the backlog, from the administration API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ops.cli.context import session
from ops.cli.options import JsonFlag
from ops.cli.output import Output, cell
from ops.status.sample import Sample, rates, take_sample

HUMAN_FIELDS = (
    ("queue", "queue"),
    ("active_messages", "active"),
    ("scheduled_messages", "scheduled"),
    ("dead_letter_messages", "dead-lettered"),
    ("oldest_dead_letter_age_seconds", "oldest dead letter"),
    ("drain_per_second", "drain (msg/s)"),
    ("dead_letter_growth_per_second", "dead-letter growth (msg/s)"),
)


def status(
    ctx: typer.Context,
    watch: Annotated[
        bool, typer.Option("--watch", help="Refresh until Ctrl-C, with rates.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.5, help="Seconds between samples (--watch).")
    ] = 5.0,
    json_output: JsonFlag = False,
) -> None:
    """Active, scheduled and dead-letter counts and the oldest dead letter's age."""
    with session(ctx, json_output) as (wiring, output):
        queue = wiring.settings.registrations_queue
        counter, dead_letters = wiring.queue_counter, wiring.dead_letter_queue
        previous: Sample | None = None
        with _screen(output, watch) as show:
            try:
                while True:
                    sample = take_sample(counter, dead_letters, queue, lambda: datetime.now(UTC))
                    movement = rates(previous, sample) if previous else _no_rates()
                    show(sample.row() | (movement if watch else {}))
                    if not watch:
                        return
                    previous = sample
                    time.sleep(interval)
            except KeyboardInterrupt:
                return  # the way out of --watch, not a failure


def _no_rates() -> dict[str, float | None]:
    return {"drain_per_second": None, "dead_letter_growth_per_second": None}


@contextmanager
def _screen(output: Output, watch: bool) -> Iterator[Any]:
    """`show(row)`: a JSON line, a table, or (watching on a terminal) one table redrawn."""
    if output.json_mode or not (watch and output.console.is_terminal):
        yield lambda row: output.record(row) if output.json_mode else output.record(_human(row))
        return
    with Live(console=output.console, auto_refresh=False) as live:
        yield lambda row: live.update(_table(_human(row)), refresh=True)


def _human(row: dict[str, Any]) -> dict[str, Any]:
    shown = {label: row[key] for key, label in HUMAN_FIELDS if key in row}
    age = row.get("oldest_dead_letter_age_seconds")
    shown["oldest dead letter"] = _age(age) if age is not None else "none"
    return shown


def _age(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    parts = [(days, "d"), (hour, "h"), (minute, "m"), (second, "s")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def _table(row: dict[str, Any]) -> Table:
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in row.items():
        table.add_row(Text(key), Text(cell(value)))
    return table
