"""`python -m ops dlq ...` against the Service Bus emulator and Azurite, as a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from azure.servicebus import ServiceBusMessage, ServiceBusSubQueue

from tests.integration.ops.conftest import ROOT, TENANT, clean_environment, ingest_message
from tests.unit.ops.ops_fakes import failure

DLQ = ServiceBusSubQueue.DEAD_LETTER


def user_ids(count: int, prefix: str = "u") -> list[str]:
    return [f"auth0|{prefix}{n:06d}" for n in range(count)]


def test_list_show_and_export_read_without_removing(ops_env):
    env = ops_env()
    env.seed(user_ids(3))
    env.send([ServiceBusMessage(b"\xff not json", message_id="garbage-1")])
    env.dead_letter_all("InvalidEvent", "body: is not UTF-8 text", 1)
    first = env.peek(DLQ)[0]
    env.failure_log().record(
        failure(
            str(first.message_id),
            "StorageUnavailable",
            "table service answered 503",
            delivery_count=3,
            correlation_id="corr-x",
        )
    )

    rows = env.json_lines("dlq", "list")

    assert [r["user_id"] for r in rows] == [*user_ids(3), None]
    assert rows[0]["last_error"] == "StorageUnavailable: table service answered 503"
    assert rows[1]["last_error"] is None
    assert rows[0]["dead_letter_reason"] == "ProcessingFailed"
    assert rows[0]["dead_letter_error_description"] == "StorageUnavailable: table answered 503"
    for key in ("sequence_number", "message_id", "enqueued_time", "delivery_count"):
        assert rows[0][key] is not None
    assert [r["sequence_number"] for r in env.json_lines("dlq", "list", "--reason", "invalid")] == [
        rows[3]["sequence_number"]
    ]
    assert len(env.json_lines("dlq", "list", "--limit", "2")) == 2

    [detail] = env.json_lines("dlq", "show", str(rows[0]["sequence_number"]))
    assert detail["body"]["user"]["user_id"] == user_ids(3)[0]
    assert detail["application_properties"]["tenant"] == TENANT
    assert detail["content_type"] == "application/json"
    human = env.ops("dlq", "show", str(rows[3]["sequence_number"]))
    assert human.returncode == 0
    assert "base64" in human.stdout

    out = env.tmp / "dlq.jsonl"
    assert env.ops("dlq", "export", "--out", str(out)).returncode == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["message_id"] for e in exported] == [r["message_id"] for r in rows]
    assert exported[0]["application_properties"]["DeadLetterReason"] == "ProcessingFailed"
    assert len(env.peek(DLQ)) == 4  # nothing removed
    again = env.ops("dlq", "export", "--out", str(out))
    assert again.returncode == 2
    assert "exists already" in again.stderr

    missing = env.ops("dlq", "show", "999")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no dead-lettered message with sequence number 999"


def test_replaying_1000_dead_letters_lands_each_in_the_table_exactly_once(ops_env):
    env = ops_env(lock="PT30S")
    users = user_ids(1000)
    env.seed(users)

    started = time.monotonic()
    done = env.ops("--operator", "ana@ops", "dlq", "replay", "--all", "--yes", "--json")
    replay_seconds = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    summary = lines[-1]
    assert summary["counts"] == {"replayed": 1000}
    assert summary["outcome"] == "succeeded"
    assert env.peek(DLQ) == []
    queued = env.peek()
    assert len(queued) == 1000
    sample = queued[0]
    properties = {k.decode(): v for k, v in sample.application_properties.items()}
    assert properties["replay_count"] == 1
    assert "DeadLetterReason" not in properties
    assert properties["original_message_id"].decode() + ":replay:1" == sample.message_id
    assert sample.content_type == "application/json"
    assert sample.subject == "user.registered"
    assert sample.correlation_id
    assert sample.correlation_id.startswith("corr-")

    processed = env.drain(env.processor())

    assert len(processed) == 1000
    stored = list(env.reader().iter_all())
    assert sorted(r.user_id for r in stored) == users
    [audit] = env.json_lines("audit", "list", "--limit", "1")
    assert audit["operator"] == "local:ana@ops"  # a connection string: self-declared
    assert audit["action"] == "replay"
    assert audit["counts"] == {"replayed": 1000}
    assert len(audit["message_ids"]) == 1000
    print(f"replayed 1000 dead letters in {replay_seconds:.1f}s")


def test_a_replay_killed_midway_and_run_again_loses_and_duplicates_nothing(ops_env):
    env = ops_env(lock="PT5S")
    users = user_ids(600, prefix="k")
    env.seed(users)

    # Given: a replay in small batches, SIGKILLed once part of it reached the queue
    process = subprocess.Popen(
        env.command("dlq", "replay", "--all", "--yes", "--batch-size", "10", "--rate", "200/s"),
        cwd=ROOT,
        env=clean_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(env.peek()) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    in_queue, in_dlq = len(env.peek()), len(env.peek(DLQ))
    assert 100 <= in_queue < 600, "the kill did not land midway"
    assert in_queue + in_dlq >= 600  # nothing lost, possibly sent-but-not-completed twice
    print(f"killed with {in_queue} in the queue and {in_dlq} still dead-lettered")

    # When: the operator runs the same replay again (it waits out the dead run's locks)
    again = env.ops("dlq", "replay", "--all", "--yes", "--json", "--lock-wait", "20")

    # Then: every user lands once; copies sent twice were dropped by duplicate detection
    assert again.returncode == 0, again.stderr
    assert env.peek(DLQ) == []
    processed = env.drain(env.processor())
    assert len(processed) == len(set(processed)) == 600
    assert sorted(r.user_id for r in env.reader().iter_all()) == users
    audits = env.json_lines("audit", "list")
    assert [a["outcome"] for a in audits] == ["succeeded", "running"]  # the killed run shows


def test_purge_with_a_filter_touches_only_what_matches(ops_env):
    env = ops_env()
    env.seed(user_ids(4, prefix="keep"), reason="ProcessingFailed")
    env.seed(user_ids(3, prefix="drop"), reason="InvalidEvent")

    plan = env.ops("dlq", "purge", "--reason", "invalid", "--dry-run", "--json")
    assert plan.returncode == 0
    assert len(env.peek(DLQ)) == 7
    assert env.ops("dlq", "purge", "--reason", "invalid").returncode == 2  # no --yes
    done = env.ops("dlq", "purge", "--reason", "invalid", "--yes", "--json")

    assert done.returncode == 0, done.stderr
    remaining = env.peek(DLQ)
    assert sorted(m.dead_letter_reason for m in remaining) == ["ProcessingFailed"] * 4
    assert {json.loads(b"".join(m.body))["user"]["user_id"] for m in remaining} == set(
        user_ids(4, prefix="keep")
    )
    assert env.peek() == []  # a purge never sends anything
    [audit] = env.json_lines("audit", "list")
    assert audit["action"] == "purge"
    assert audit["counts"] == {"purged": 3}
    assert sorted(audit["message_ids"]) == sorted(
        str(ingest_message(u).message_id) for u in user_ids(3, prefix="drop")
    )


def test_a_message_at_its_replay_budget_is_refused_unless_forced(ops_env):
    env = ops_env()
    looping = ingest_message("auth0|looping")
    looping.application_properties = {**(looping.application_properties or {}), "replay_count": 3}
    env.send([looping])
    env.dead_letter_all("ProcessingFailed", "again", 1)

    refused = env.ops("dlq", "replay", "--all", "--yes", "--json")
    assert refused.returncode == 0, refused.stderr
    outcome = json.loads(refused.stdout.splitlines()[0])
    assert outcome["outcome"] == "refused"
    assert "max 3" in outcome["detail"]
    assert len(env.peek(DLQ)) == 1
    assert env.peek() == []

    forced = env.ops("dlq", "replay", "--all", "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    [replayed] = env.peek()
    assert replayed.application_properties[b"replay_count"] == 4


def test_a_selection_leaves_the_other_dead_letters_as_they_were(ops_env):
    env = ops_env()
    env.seed(user_ids(5))
    before = {m.sequence_number: m for m in env.peek(DLQ)}
    chosen = sorted(before)[3]

    done = env.ops("dlq", "replay", "--seq", str(chosen), "--yes", "--json")

    assert done.returncode == 0, done.stderr
    after = {m.sequence_number: m for m in env.peek(DLQ)}
    assert sorted(after) == sorted(n for n in before if n != chosen)
    for number, message in after.items():
        assert message.message_id == before[number].message_id
        assert message.dead_letter_reason == before[number].dead_letter_reason
    [queued] = env.peek()
    assert queued.message_id == before[chosen].message_id + ":replay:1"


def test_a_copy_sent_before_a_crash_is_dropped_as_a_duplicate_on_the_next_run(ops_env):
    env = ops_env()
    env.seed(["auth0|crashed"])
    [dead] = env.peek(DLQ)
    # Given: an earlier run sent the replay, then died before completing the DLQ copy
    earlier = ingest_message("auth0|crashed")
    earlier.message_id = f"{dead.message_id}:replay:1"
    env.send([earlier])

    done = env.ops("dlq", "replay", "--all", "--yes", "--json")

    assert done.returncode == 0, done.stderr
    assert env.peek(DLQ) == []
    assert [m.message_id for m in env.peek()] == [earlier.message_id]  # once, not twice
