"""Erasure over in-memory stores: what goes, what stays, and the audit row."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from shared.erasure import Eraser, UserDeletion, belongs_to, erase_registration, parse_deletion
from shared.errors import InvalidEvent
from shared.events import validate_event
from shared.failures import ProcessingFailure
from shared.registrations import INDEX_PARTITIONS, MAIN_PARTITIONS, Registration
from shared.tablestore import Entity, KeyRange, StoredEntity
from shared.tombstones import TOMBSTONE_RETENTION, TombstoneStore, subject_hash
from shared.writes import RegistrationWriter
from tests.unit.erasure.memory import T0, TENANT, ErasurePipeline, creation_body, deletion_body

USER = "google-oauth2|1029"


def stored(pipeline: ErasurePipeline) -> tuple[list[dict], list[dict]]:
    main = list(pipeline.registrations.query(MAIN_PARTITIONS))
    index = list(pipeline.registrations.query(INDEX_PARTITIONS))
    return main, index


def failure(message_id: str, user_id: str | None) -> ProcessingFailure:
    return ProcessingFailure(
        message_id=message_id, user_id=user_id, tenant_id=TENANT if user_id else None,
        delivery_count=3, error_type="InvalidEvent", error_message="user.name: too long",
        permanent=True, correlation_id="c" * 32, failed_at=T0,
    )  # fmt: skip


def test_erasure_removes_entity_index_failures_and_dead_letters_and_keeps_others() -> None:
    pipeline = ErasurePipeline()
    pipeline.deliver(creation_body(USER, T0, email="ana@example.com"))
    pipeline.deliver(creation_body("auth0|other", T0))
    pipeline.failures.record(failure("reg_1", USER))
    pipeline.failures.record(failure("reg_2", "auth0|other"))
    pipeline.failures.record(failure("reg_3", None))
    pipeline.dead_letters.bodies = [
        creation_body(USER, T0 - timedelta(days=1)),
        creation_body("auth0|other", T0),
        b"not json",
    ]

    result = pipeline.deliver(deletion_body(USER, T0 + timedelta(hours=1)), "del_1")

    assert result.counts() == {  # type: ignore[attr-defined]
        "entities": 1, "index_entries": 1, "failures": 1, "dead_letters": 1,
    }  # fmt: skip
    main, index = stored(pipeline)
    assert [e["user_id"] for e in main] == ["auth0|other"]
    assert [e["user_id"] for e in index] == ["auth0|other"]
    assert {f.message_id for f in pipeline.failures.iter_all()} == {"reg_2", "reg_3"}
    assert pipeline.dead_letters.bodies[1:] == [b"not json"]
    assert pipeline.reader.get(USER) == []


def test_the_audit_row_has_the_ops_format_and_no_personal_data() -> None:
    pipeline = ErasurePipeline()
    pipeline.deliver(creation_body(USER, T0))
    pipeline.deliver(deletion_body(USER, T0 + timedelta(hours=1)), "del_1")
    pipeline.deliver(deletion_body(USER, T0 + timedelta(hours=1)), "del_1")  # redelivery

    (row,) = pipeline.audit.query(KeyRange.exactly("action"))
    assert row["action"] == "erase"
    assert row["operator"] == "app:processor"
    assert row["outcome"] == "completed"
    assert row["selection"] == "user " + subject_hash(TENANT, USER)[:32]
    assert json.loads(row["counts"])["entities"] == 1
    assert USER not in json.dumps(row)
    assert "1029" not in json.dumps(row)


def test_a_late_old_deletion_never_erases_a_later_resignup() -> None:
    pipeline = ErasurePipeline()
    pipeline.deliver(deletion_body(USER, T0))
    pipeline.deliver(creation_body(USER, T0 + timedelta(days=2)))  # the re-signup

    pipeline.deliver(deletion_body(USER, T0))  # a late duplicate of the old deletion

    (registration,) = pipeline.reader.get(USER)
    assert registration.created_at == T0 + timedelta(days=2)


def test_signups_created_before_the_deletion_are_dropped_when_they_arrive() -> None:
    pipeline = ErasurePipeline()
    pipeline.deliver(deletion_body(USER, T0))

    outcome = pipeline.deliver(creation_body(USER, T0 - timedelta(minutes=1)))

    assert outcome == "stale"
    assert stored(pipeline) == ([], [])


def test_a_write_that_raced_with_an_erasure_is_undone() -> None:
    # Given an erasure that runs between a creation's entity write and its index write...
    pipeline = ErasurePipeline()
    real_insert = pipeline.registrations.insert
    inserted: list[str] = []

    def insert_then_erase(entity: Entity) -> str:
        etag = real_insert(entity)
        inserted.append(str(entity["PartitionKey"]))
        if len(inserted) == 1:
            pipeline.deliver(deletion_body(USER, T0 + timedelta(hours=1)))  # erasure runs now
        return etag

    # The race is injected by replacing the method on this one instance.
    pipeline.registrations.insert = insert_then_erase  # type: ignore[method-assign]
    # When the creation's index entry lands after the erasure finished...
    outcome = pipeline.deliver(creation_body(USER, T0))
    # Then the check after the write erases the entity and the late index entry.
    assert len(inserted) == 2  # the entity, then its index entry
    assert outcome == "stale"
    assert stored(pipeline) == ([], [])


def test_belongs_to_matches_tenant_user_and_time() -> None:
    old, new = creation_body(USER, T0), creation_body(USER, T0 + timedelta(days=1))
    assert belongs_to(old, TENANT, USER, T0)
    assert not belongs_to(new, TENANT, USER, T0)
    assert not belongs_to(old, "other-tenant", USER, T0)
    assert belongs_to(deletion_body(USER, T0), TENANT, USER, T0)
    bad_time = json.loads(old)
    bad_time["user"]["created_at"] = "yesterday"
    assert belongs_to(json.dumps(bad_time).encode(), TENANT, USER, T0)
    assert not belongs_to(b"[1, 2]", TENANT, USER, T0)


def test_deletion_bodies_round_trip_and_bad_ones_name_the_field() -> None:
    deletion = UserDeletion.of(TENANT, USER, T0, "event-stream")
    body = deletion.canonical_json()
    assert json.loads(body) == {
        "type": "user.deleted", "schema_version": 1, "tenant": {"id": TENANT},
        "user": {"user_id": USER}, "deleted_at": "2026-11-26T03:00:00.000Z",
        "source": "event-stream",
    }  # fmt: skip
    assert parse_deletion(body) == deletion
    with pytest.raises(InvalidEvent) as caught:
        parse_deletion(body.replace("2026-11-26T03:00:00.000Z", "soon"))
    assert caught.value.errors[0][0] == "deleted_at"
    assert "soon" not in str(caught.value)


def test_an_erasure_prunes_expired_tombstones_at_most_once_an_hour() -> None:
    pipeline = ErasurePipeline()
    seconds = [0.0]
    now = [T0]
    tombstones = TombstoneStore(pipeline.tombstone_table, clock=lambda: now[0])
    eraser = Eraser(
        pipeline.registrations, tombstones, pipeline.failures, pipeline.dead_letters,
        monotonic=lambda: seconds[0],
    )  # fmt: skip
    eraser.erase(TENANT, "auth0|old", T0)
    now[0] = T0 + TOMBSTONE_RETENTION + timedelta(days=1)

    eraser.erase(TENANT, "auth0|fresh", now[0])  # within the hour of the first prune
    assert len(pipeline.tombstone_table) == 2

    seconds[0] = 3601.0
    eraser.erase(TENANT, "auth0|later", now[0])
    assert len(pipeline.tombstone_table) == 2  # "old" pruned, "later" added
    assert tombstones.deleted_at(TENANT, "auth0|fresh") == now[0]


def test_a_resignup_written_between_the_erasures_read_and_delete_is_kept() -> None:
    # Given: an erasure reads Ana's old signup, and the re-signup replaces it right then
    pipeline = ErasurePipeline()
    pipeline.deliver(creation_body(USER, T0))
    store = pipeline.registrations
    real_get = store.get
    raced: list[int] = []

    def get_then_resignup(partition_key: str, row_key: str) -> StoredEntity | None:
        found = real_get(partition_key, row_key)
        if not raced and partition_key.startswith("u"):
            raced.append(1)
            RegistrationWriter(store).save(registration_of(USER, T0 + timedelta(days=1)))
        return found

    # The race is injected by replacing the method on this one instance.
    store.get = get_then_resignup  # type: ignore[method-assign]

    # When: the erasure deletes what it read
    assert erase_registration(store, TENANT, USER, T0 + timedelta(hours=1)) == (0, 1)

    # Then: the conditional delete lost, the re-read saw the re-signup, and kept it
    (kept,) = pipeline.reader.get(USER)
    assert kept.created_at == T0 + timedelta(days=1)
    assert [r.created_at for r in pipeline.reader.list()] == [T0 + timedelta(days=1)]


def registration_of(user_id: str, created_at: datetime) -> Registration:
    return Registration.from_event(
        validate_event(json.loads(creation_body(user_id, created_at))),
        message_id="m", correlation_id="c" * 32, received_at=created_at,
        processed_at=created_at, delivery_count=1,
    )  # fmt: skip
