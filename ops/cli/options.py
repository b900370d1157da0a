"""Flags that several commands share, as typer `Annotated` types, and their parsing.

Parsing raises `UsageProblem` (exit 2), so the service modules below the CLI
never see a flag.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ops.deadletters.model import Selection
from ops.durations import parse_duration
from ops.errors import UsageProblem

JsonFlag = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
AllFlag = Annotated[bool, typer.Option("--all", help="Every dead letter.")]
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
DryRunFlag = Annotated[bool, typer.Option("--dry-run", help="Show, change nothing.")]
LockWaitOption = Annotated[
    float,
    typer.Option(
        "--lock-wait",
        min=0,
        help="Seconds to wait for messages locked by another receiver (e.g. a killed run).",
    ),
]
FunctionKeyOption = Annotated[
    str | None,
    typer.Option("--function-key", envvar="FUNCTION_KEY", help="Default: LOCALDEV_FUNCTION_KEY."),
]
ForceFlag = Annotated[bool, typer.Option("--force", help="Overwrite an existing --out file.")]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")]


def selection_flags(
    everything: AllFlag = False,
    seq: SeqOption = None,
    reason: ReasonOption = None,
    error: ErrorOption = None,
    older_than: OlderOption = None,
) -> Selection:
    """The flags that choose the dead letters of a replay or purge, declared once.

    Its parameters are the commands' flags (see `takes_selection`), in the order --help lists.
    """
    return selection_from_flags(everything, seq, reason, older_than, error)


def takes_selection(command: Callable[..., None]) -> Callable[..., None]:
    """A command whose `selection: Selection` parameter stands for the flags of `selection_flags`.

    typer reads a command's flags from its signature, so the command is wrapped in one whose
    signature has those flags where `selection` stood; the command receives them parsed, as
    one `Selection` (UsageProblem when they select nothing or a mix).
    """
    flags = inspect.signature(selection_flags, eval_str=True).parameters
    signature = inspect.signature(command, eval_str=True)
    parameters = [
        replacement
        for parameter in signature.parameters.values()
        for replacement in (flags.values() if parameter.name == "selection" else [parameter])
    ]

    def with_selection(**values: Any) -> None:
        selection = selection_flags(**{name: values.pop(name) for name in flags})
        command(selection=selection, **values)

    with_selection.__name__, with_selection.__doc__ = command.__name__, command.__doc__
    flags_signature = signature.replace(parameters=parameters)
    with_selection.__signature__ = flags_signature  # type: ignore[attr-defined]
    return with_selection


def selection_from_flags(
    everything: bool,
    sequence_numbers: list[str] | None,
    reason: str | None,
    older_than: str | None,
    error: str | None = None,
) -> Selection:
    """The Selection a replay or purge asks for; UsageProblem when it asks for none or a mix."""
    numbers = frozenset(parse_sequence_numbers(sequence_numbers or []))
    age = parse_duration(older_than) if older_than else None
    selection = Selection(everything, numbers, reason, age, error)
    if selection.is_empty:
        raise UsageProblem(
            "say which messages: --all, --seq N, --reason TEXT, --error TEXT"
            " or --older-than DURATION"
        )
    if everything and selection != Selection(everything=True):
        raise UsageProblem("--all cannot be combined with --seq, --reason, --error or --older-than")
    for flag, text in (("--reason", reason), ("--error", error)):
        if text is not None and not text.strip():
            raise UsageProblem(f"{flag} needs a non-empty text")
    return selection


def parse_sequence_numbers(texts: list[str]) -> list[int]:
    """`--seq 5 --seq 7,9` -> [5, 7, 9]; UsageProblem for anything but positive integers."""
    numbers = []
    for text in texts:
        for part in text.replace(",", " ").split():
            if not part.isdigit() or int(part) < 1:
                raise UsageProblem(f"invalid sequence number {part!r}: use positive integers")
            numbers.append(int(part))
    return numbers
