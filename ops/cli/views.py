"""What each command shows: table columns and how reports are printed."""

from __future__ import annotations

from ops.audit.record import AuditEntry
from ops.cli.output import Output
from ops.deadletters.actions import ActionReport
from ops.deadletters.settle import MessageOutcome

DLQ_COLUMNS = (
    "sequence_number",
    "message_id",
    "enqueued_time",
    "delivery_count",
    "dead_letter_reason",
    "dead_letter_error_description",
    "last_error",
    "user_id",
)
OUTCOME_COLUMNS = MessageOutcome.COLUMNS
AUDIT_COLUMNS = (
    "started_at",
    "action",
    "operator",
    "selection",
    "selected",
    "counts",
    "outcome",
    "message_ids",
)
DRY_RUN_ROWS_SHOWN = 50
UNAVAILABLE_MARK = "(unavailable: FAILURES_TABLE cannot be read)"


def marked(row: dict[str, object]) -> dict[str, object]:
    """A dead-letter row for the human view: a recorded error that could not be read says so."""
    if row.get("last_error_unavailable"):
        return {**row, "last_error": UNAVAILABLE_MARK}
    return row


def show_report(output: Output, report: ActionReport) -> None:
    """Per-message rows (all with --json; the notable ones in the table), then the summary."""
    if output.json_mode:
        output.rows((o.row() for o in report.outcomes), OUTCOME_COLUMNS)
        output.record(report.summary())
        return
    if report.dry_run:
        shown = report.outcomes[:DRY_RUN_ROWS_SHOWN]
        title = f"dry run: {report.action} {report.selection} (nothing changed)"
    else:
        shown = [o for o in report.outcomes if o.outcome != report.done_outcome]
        title = f"{report.action}: messages not {report.done_outcome}"
    if shown:
        output.rows((o.row() for o in shown), OUTCOME_COLUMNS, title=title)
    if report.dry_run and len(report.outcomes) > len(shown):
        output.say(f"... and {len(report.outcomes) - len(shown)} more (use --json for all)")
    counts = ", ".join(f"{n} {name}" for name, n in sorted(report.counts.items())) or "nothing"
    selected = len(report.outcomes)
    verb = "would " + report.action if report.dry_run else report.action
    audit = f" (audit {report.action_id})" if report.action_id else ""
    output.say(f"{verb}: {selected} selected by {report.selection}: {counts}{audit}")


def audit_rows(entries: list[AuditEntry]) -> list[dict[str, object]]:
    """`audit list` rows."""
    return [entry.row() for entry in entries]
