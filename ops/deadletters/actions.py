"""`dlq replay` and `dlq purge`: select from a peeked snapshot, then settle in one pass.

The selection is taken from a snapshot (peek) before anything is locked, so
the dry run, the confirmation and the real run agree, and messages that
arrive in the DLQ during a replay (e.g. a replayed message failing again)
are not picked up by the same run.

Replay order per chunk: send the new copies to the main queue first, then
complete the dead-lettered copies. A crash in between leaves both; the next
run sends the same deterministic message ids again, which the broker drops
as duplicates within its window and the processor's idempotency absorbs
after it (see ops.deadletters.model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from ops.audit.record import AuditTrail
from ops.deadletters.model import DeadLetter, OutgoingMessage, Selection, build_replay
from ops.deadletters.queue import DeadLetterQueue, FailureLookup, LockedLetter, SendFailed
from ops.deadletters.read import iter_dead_letters
from ops.deadletters.settle import ChunkResult, Clock, MessageOutcome, PassOptions, SettlePass
from ops.errors import OpsError, one_line
from shared.errors import PipelineError

SUCCESS_OUTCOMES = frozenset(
    {"replayed", "purged", "refused", "would-replay", "would-refuse", "would-purge"}
)


@dataclass
class ActionReport:
    """The result of a replay or purge (or of their dry runs)."""

    action: str
    selection: str
    dry_run: bool
    outcomes: list[MessageOutcome] = field(default_factory=list)
    action_id: str | None = None

    @property
    def done_outcome(self) -> str:
        """The outcome of a message this action handled: `replayed` or `purged`."""
        return {"replay": "replayed", "purge": "purged"}[self.action]

    @property
    def counts(self) -> dict[str, int]:
        """How many messages ended in each outcome."""
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        return counts

    @property
    def complete(self) -> bool:
        """True when every selected message was handled (replayed, purged or knowingly refused)."""
        return all(o.outcome in SUCCESS_OUTCOMES for o in self.outcomes)

    def summary(self) -> dict[str, object]:
        """The final --json row."""
        return {
            "summary": True,
            "action": self.action,
            "action_id": self.action_id,
            "dry_run": self.dry_run,
            "selection": self.selection,
            "selected": len(self.outcomes),
            "counts": self.counts,
            "outcome": "succeeded" if self.complete else "incomplete",
        }


@dataclass(frozen=True)
class ReplayPolicy:
    """How far a replay may go: the replay budget per message, and --force."""

    max_replays: int = 3
    force: bool = False

    def refusal(self, letter: DeadLetter) -> str | None:
        """Why this letter must not be replayed again, or None."""
        if self.force or letter.replay_count < self.max_replays:
            return None
        return (
            f"replayed {letter.replay_count} times already (max {self.max_replays});"
            " fix the cause, or use --force"
        )


def select(
    queue: DeadLetterQueue,
    selection: Selection,
    now: datetime,
    last_error: Callable[[DeadLetter], str | None] = lambda _: None,
) -> list[DeadLetter]:
    """The snapshot of selected dead letters, by peeking (nothing is locked).

    `last_error` looks up the processor's recorded error; it is only called
    when the selection filters on it (--error).
    """
    if selection.sequence_numbers and not selection.everything:
        start = min(selection.sequence_numbers)
    else:
        start = 1
    chosen = []
    for letter in iter_dead_letters(queue, start=start):
        error = last_error(letter) if selection.error is not None else None
        if selection.matches(letter, now, error):
            chosen.append(letter)
    return chosen


def plan_replay(letters: Sequence[DeadLetter], policy: ReplayPolicy) -> list[MessageOutcome]:
    """What a replay would do, message by message (the dry run)."""
    plan = []
    for letter in letters:
        refusal = policy.refusal(letter)
        if refusal is not None:
            plan.append(
                MessageOutcome(letter.sequence_number, letter.message_id, "would-refuse", refusal)
            )
        else:
            plan.append(
                MessageOutcome(
                    letter.sequence_number,
                    letter.message_id,
                    "would-replay",
                    new_message_id=build_replay(letter).message_id,
                )
            )
    return plan


class _Replayer:
    """The chunk handler of a replay: send first, then complete what was sent."""

    def __init__(self, queue: DeadLetterQueue, policy: ReplayPolicy) -> None:
        self.queue = queue
        self.policy = policy

    def __call__(self, chunk: list[LockedLetter]) -> ChunkResult:
        result = ChunkResult()
        to_send = []
        for locked in chunk:
            refusal = self.policy.refusal(locked.letter)
            if refusal is None:
                to_send.append((locked, build_replay(locked.letter)))
            else:
                result.outcomes.append(_outcome(locked, "refused", refusal))
                result.give_back.append(locked)
        sent, error = self._send([message for _, message in to_send])
        for locked, message in to_send[:sent]:
            result.outcomes.append(self._complete(locked, message.message_id))
        for locked, _ in to_send[sent:]:
            result.outcomes.append(_outcome(locked, "failed", f"send failed: {error}"))
            result.give_back.append(locked)
        result.stop = error is not None
        return result

    def _send(self, messages: list[OutgoingMessage]) -> tuple[int, str | None]:
        if not messages:
            return 0, None
        try:
            self.queue.send(messages)
        except SendFailed as exc:
            return exc.sent, one_line(str(exc))
        except OpsError as exc:
            return 0, one_line(str(exc))
        return len(messages), None

    def _complete(self, locked: LockedLetter, new_message_id: str) -> MessageOutcome:
        try:
            self.queue.complete(locked)
        except OpsError as exc:
            detail = (
                f"sent, but the DLQ copy stayed ({one_line(str(exc))});"
                " replaying it again is absorbed as a duplicate"
            )
            return _outcome(locked, "unsettled", detail, new_message_id)
        return _outcome(locked, "replayed", None, new_message_id)


def _purge_chunk(queue: DeadLetterQueue) -> Callable[[list[LockedLetter]], ChunkResult]:
    def purge(chunk: list[LockedLetter]) -> ChunkResult:
        result = ChunkResult()
        for locked in chunk:
            try:
                queue.complete(locked)
            except OpsError as exc:
                result.outcomes.append(_outcome(locked, "failed", one_line(str(exc))))
                continue
            result.outcomes.append(_outcome(locked, "purged"))
        return result

    return purge


def _outcome(
    locked: LockedLetter, outcome: str, detail: str | None = None, new_id: str | None = None
) -> MessageOutcome:
    letter = locked.letter
    return MessageOutcome(letter.sequence_number, letter.message_id, outcome, detail, new_id)


@dataclass
class ActionContext:
    """What replay and purge share: queue, audit trail, failure log, time, progress."""

    queue: DeadLetterQueue
    queue_name: str
    audit: AuditTrail
    options: PassOptions = field(default_factory=PassOptions)
    clock: Clock = field(default_factory=Clock)
    on_progress: Callable[[int], None] = lambda _: None
    failures: FailureLookup | None = None

    def forget_failures(self, letter: DeadLetter) -> None:
        """Delete the failure records of a message that left the DLQ (replayed or purged)."""
        if self.failures is None:
            return
        for message_id in dict.fromkeys([letter.message_id, letter.original_message_id]):
            if message_id:
                # A record left behind names a message that no longer exists: harmless,
                # and no reason to fail a replay or purge that did its real work.
                with suppress(OpsError, PipelineError):
                    self.failures.clear(message_id)


def replay(
    context: ActionContext, letters: Sequence[DeadLetter], selection: str, policy: ReplayPolicy
) -> ActionReport:
    """Replay the selected snapshot to the main queue, recording it in the audit log."""
    return _run(context, "replay", letters, selection, _Replayer(context.queue, policy))


def purge(context: ActionContext, letters: Sequence[DeadLetter], selection: str) -> ActionReport:
    """Remove the selected snapshot from the DLQ, recording it in the audit log."""
    return _run(context, "purge", letters, selection, _purge_chunk(context.queue))


def _run(
    context: ActionContext,
    action: str,
    letters: Sequence[DeadLetter],
    selection: str,
    handler: Callable[[list[LockedLetter]], ChunkResult],
) -> ActionReport:
    try:
        entry = context.audit.begin(action, context.queue_name, selection, len(letters))
    except OpsError as exc:
        raise OpsError(f"nothing was changed: the audit record cannot be written ({exc})") from exc
    report = ActionReport(action, selection, dry_run=False, action_id=entry.action_id)
    by_number = {letter.sequence_number: letter for letter in letters}

    def audited(chunk: list[LockedLetter]) -> ChunkResult:
        result = handler(chunk)
        context.audit.record(entry, [o.row() for o in result.outcomes])
        for outcome in result.outcomes:
            if outcome.outcome == report.done_outcome:
                context.forget_failures(by_number[outcome.sequence_number])
        report.outcomes += result.outcomes
        context.on_progress(len(chunk))
        return result

    settle = SettlePass(context.queue, context.options, context.clock)
    try:
        outcomes = settle.run(by_number, audited)
    except OpsError as exc:
        context.audit.finish(entry, "failed", report.counts, one_line(str(exc)))
        raise
    report.outcomes = sorted(outcomes, key=lambda o: o.sequence_number)
    context.audit.finish(entry, "succeeded" if report.complete else "incomplete", report.counts)
    return report
